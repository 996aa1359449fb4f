/**
 * The in-browser back end: a module worker (worker.ts) holds the pipeline; this side turns its
 * messages into the Backend interface the page uses for `dit serve` too.
 */
import { ServerError, type GenerateRequest, type JobEvent } from '../client.js';
import type { Backend, Loaded } from '../backend.js';
import type { FromWorker, ModelChoice, ToWorker } from './protocol.js';
import type { ComputeQuery } from '../share.js';
import { pickModelFiles, pickVaeFiles } from './files.js';
import modelUrl from '../../../assets/fashion-mnist/model.safetensors?url';
import configUrl from '../../../assets/fashion-mnist/config.json?url';

interface Pending {
  onEvent: (event: JobEvent) => void;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const ENDS: ReadonlySet<JobEvent['type']> = new Set(['done', 'failed', 'cancelled']);

/** `compute`: the address's backend/threads/attention/dtype, as typed (the worker checks them). */
export function createBrowserBackend(compute: ComputeQuery): Backend {
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  const jobs = new Map<string, Pending>();
  let opening: { resolve: (l: Loaded) => void; reject: (e: Error) => void; onStatus: (text: string) => void } | undefined;
  let counter = 0;
  const send = (m: ToWorker) => worker.postMessage(m);

  worker.onmessage = (e: MessageEvent<FromWorker>) => {
    const m = e.data;
    if (m.type === 'phase') opening?.onStatus(m.text);
    else if (m.type === 'opened') {
      const where = `in this browser, ${m.backend === 'webgpu' ? 'WebGPU' : `WASM${crossOriginIsolated ? ', multi-threaded' : ', one thread'}`}; ready in ${m.seconds.toFixed(1)} s`;
      opening?.resolve({ info: m.info, classes: m.classes, where });
      opening = undefined;
    } else if (m.type === 'open-failed') {
      opening?.reject(new Error(m.error));
      opening = undefined;
    } else if (m.type === 'refused') {
      jobs.get(m.id)?.reject(new ServerError(400, m.body));
      jobs.delete(m.id);
    } else if (m.type === 'event') {
      const job = jobs.get(m.id);
      if (!job) return;
      job.onEvent(m.event);
      if (ENDS.has(m.event.type)) {
        jobs.delete(m.id);
        job.resolve();
      }
    }
  };
  worker.onerror = (e) => {
    const err = new Error(`the pipeline worker failed: ${e.message}`);
    opening?.reject(err);
    for (const job of jobs.values()) job.reject(err);
    jobs.clear();
  };

  const open = (model: ModelChoice, onStatus: (text: string) => void): Promise<Loaded> =>
    new Promise((resolve, reject) => {
      opening = { resolve, reject, onStatus };
      onStatus('Starting…');
      send({ type: 'open', model, compute });
    });

  return {
    kind: 'browser',
    start: (onStatus) => open({ kind: 'embedded', weightsUrl: new URL(modelUrl, location.href).href, configUrl: new URL(configUrl, location.href).href }, onStatus),
    openFiles(files, vaeFiles, onStatus) {
      const picked = pickModelFiles(files);
      return open({ kind: 'files', ...picked, vae: vaeFiles.length > 0 ? pickVaeFiles(vaeFiles) : picked.vae }, onStatus);
    },
    generate(request: GenerateRequest, onEvent: (event: JobEvent) => void, signal?: AbortSignal) {
      // Unique across reloads too: the history keys runs by id.
      const id = `local-${Date.now().toString(36)}-${++counter}`;
      return new Promise<void>((resolve, reject) => {
        jobs.set(id, { onEvent, resolve, reject });
        signal?.addEventListener('abort', () => send({ type: 'cancel', id }));
        send({ type: 'generate', id, request });
      });
    },
    async cancel(id: string) {
      send({ type: 'cancel', id });
    },
  };
}
