/**
 * Where the page's runs happen: `dit serve`'s HTTP API (the server computes) or a worker in the
 * page (the browser computes; the static site and `dit serve --browser`). The page's controls,
 * errors, previews and history are the same over both: both speak api.ts's types and events.
 */
import { cancelJob, generate, getJson, type ClassEntry, type GenerateRequest, type JobEvent, type ServerInfo } from './client.js';

export interface Loaded {
  readonly info: ServerInfo;
  readonly classes: ClassEntry[];
  /** How the model runs, for the header (e.g. "in this browser, WASM"). */
  readonly where?: string;
}

export interface Backend {
  readonly kind: 'server' | 'browser';
  /** The model to start with (the server's, or the site's embedded model). */
  start(onStatus: (text: string) => void): Promise<Loaded>;
  /** Runs one request, calling onEvent per event; rejects with ServerError when it is refused. */
  generate(request: GenerateRequest, onEvent: (event: JobEvent) => void, signal?: AbortSignal): Promise<void>;
  cancel(id: string): Promise<void>;
  /**
   * The browser back end only: a checkpoint from the user's files (weights, config.json,
   * model_index.json, or a diffusers folder) and, for latent models, a VAE's files.
   */
  openFiles?(files: readonly File[], vaeFiles: readonly File[], onStatus: (text: string) => void): Promise<Loaded>;
}

export const serverBackend: Backend = {
  kind: 'server',
  async start() {
    const [info, classes] = await Promise.all([getJson<ServerInfo>('/api/info'), getJson<ClassEntry[]>('/api/classes')]);
    return { info, classes };
  },
  generate,
  cancel: cancelJob,
};
