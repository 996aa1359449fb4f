/**
 * The pipeline in a web page: createBrowserPipeline(files) reads a checkpoint the page was given
 * (the embedded model fetched with the site, or a file the user picked) through ByteSources,
 * builds the DiT graph in the page with the same builder as Node, runs it on onnxruntime-web
 * (runtime/web.ts), and hands it to pipeline-core.ts: generate() is the very code `dit sample` runs.
 * Nothing here reads files by path, writes a cache or starts a thread; the page runs it in a worker.
 */
import { UsageError } from './errors.js';
import { resolveLoadOptions, type UserLoadOptions } from './options.js';
import { loadDiTCheckpoint } from './checkpoint/dit.js';
import type { DiTFiles } from './checkpoint/discovery.js';
import { isLatentDiT } from './models/dit-config.js';
import { createWebDiTSession, type WebBackend } from './runtime/web.js';
import { encodePngStored } from './image/png-stored.js';
import { assemblePipeline, type CreatePipelineHooks, type Pipeline } from './pipeline-core.js';
import type { ClassTable } from './class-names.js';

export type { WebBackend } from './runtime/web.js';

export interface BrowserPipelineOptions extends Pick<UserLoadOptions, 'model' | 'imageSize' | 'numClasses'> {
  /** onnxruntime-web's CPU (WASM) build or its WebGPU build. */
  readonly backend: WebBackend;
  /** WASM threads; default onnxruntime-web's choice. */
  readonly threads?: number;
  /** True for the model the site ships (the embedded model's defaults apply). */
  readonly embedded?: boolean;
  /** The ImageNet-1k names, for 1000-class models (the page fetches them; undefined: unnamed classes). */
  readonly imagenetClasses?: ClassTable;
}

export async function createBrowserPipeline(files: DiTFiles, opts: BrowserPipelineOptions, hooks: CreatePipelineHooks = {}): Promise<Pipeline> {
  const load = resolveLoadOptions({ model: opts.model, imageSize: opts.imageSize, numClasses: opts.numClasses, threads: opts.threads });
  hooks.onPhase?.('loading checkpoint');
  const ckpt = loadDiTCheckpoint(files, { model: load.model, imageSize: load.imageSize, numClasses: load.numClasses });
  return assemblePipeline(
    load,
    ckpt,
    opts.embedded ?? false,
    {
      imagenetClasses: () => opts.imagenetClasses ?? Array.from({ length: 1000 }, (_, id) => [`class ${id}`]),
      resolveVae(config) {
        if (isLatentDiT(config)) {
          throw new UsageError(`${ckpt.path} is a latent model (${config.in_channels} channels): the page runs pixel-space models only so far; sample it with \`dit sample --ckpt\``);
        }
        return undefined;
      },
      async openSessions(c, _vae, onPhase) {
        onPhase?.('building model');
        return { dit: await createWebDiTSession(c, { backend: opts.backend, threads: load.threads, dtype: load.dtype }), vae: undefined };
      },
      encodePng: encodePngStored,
    },
    hooks,
  );
}

export { hasWebGpuAdapter } from './runtime/web.js';
export type { ByteSource } from './checkpoint/file.js';
export type { Pipeline } from './pipeline-core.js';
export { chooseWeights, DIT_WEIGHT_NAMES, isWeightsName } from './checkpoint/names.js';
