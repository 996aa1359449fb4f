/// <reference lib="webworker" />
/**
 * The pipeline worker: the whole of `dit sample` in the page. It opens a checkpoint (the site's
 * embedded model or the user's files, read lazily with FileReaderSync, one tensor at a time),
 * builds the DiT graph and runs generate() on onnxruntime-web, answering with the same events the
 * server streams (queued, started, step with a preview, done with the grid PNG as a data URL).
 */
import { createBrowserPipeline, hasWebGpuAdapter, provideOrtWasm, WEB_BACKENDS, type ByteSource, type Pipeline, type WebBackend } from '../../../src/browser-pipeline.js';
import { parseGenerateBody, RequestError, resolveOrReject, toResolvedRequest } from '../../../src/server/request.js';
import { classNamesOf, serverInfo } from '../../../src/server/model-title.js';
import { isPreviewStep, pngDataUrl, previewDataUrl } from '../../../src/server/preview.js';
import { encodePngStored } from '../../../src/image/png-stored.js';
import { MAX_IMAGES, MAX_SAMPLING_STEPS } from '../../../src/options.js';
import type { FromWorker, ModelChoice, ToWorker } from './protocol.js';
import { inQueryWords } from '../share.js';
import type { GenerateRequest } from '../client.js';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import ortWebGpuWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';

/**
 * The gzip copies (`NAME.gz`, written by the site's build beside every file) of the WASM that each
 * onnxruntime-web build loads: the same assets as its own `new URL(…, import.meta.url)`.
 */
const WASM_GZIP_COPIES: Readonly<Record<WebBackend, string>> = {
  wasm: `${new URL(ortWasmUrl, self.location.href).href}.gz`,
  webgpu: `${new URL(ortWebGpuWasmUrl, self.location.href).href}.gz`,
};

declare const self: DedicatedWorkerGlobalScope;

function post(message: FromWorker): void {
  self.postMessage(message);
}

/** A File or Blob read in slices on demand: nothing is held but the slice being read. */
function blobSource(blob: Blob, name: string): ByteSource {
  const reader = new FileReaderSync();
  return {
    name,
    size: blob.size,
    readInto(offset, length, target) {
      target.set(new Uint8Array(reader.readAsArrayBuffer(blob.slice(offset, offset + length))));
    },
    close() {},
  };
}

async function fetchBlob(url: string): Promise<Blob> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: the site answered ${res.status} ${res.statusText}`);
  return res.blob();
}

let pipeline: Pipeline | undefined;
let queue: Promise<void> = Promise.resolve();
let waiting = 0;
const controllers = new Map<string, AbortController>();

/** `?backend`: auto (default; WebGPU when the browser has a hardware adapter, else WASM), wasm or webgpu. */
async function chooseBackend(value: string | undefined): Promise<WebBackend> {
  if (value === undefined || value === 'auto') return (await hasWebGpuAdapter()) ? 'webgpu' : 'wasm';
  const backend = WEB_BACKENDS.find((b) => b === value);
  if (backend) return backend;
  throw new Error(`?backend ${JSON.stringify(value)} is not supported: must be one of auto, ${WEB_BACKENDS.join(', ')}`);
}

async function open(model: ModelChoice, choice: ToWorker & { type: 'open' }): Promise<void> {
  const t0 = performance.now();
  const { threads, attention, dtype } = choice.compute;
  const backend = await chooseBackend(choice.compute.backend);
  // Downloads ORT's WASM (its gzip copy) while the weights download.
  const wasm = provideOrtWasm(backend, WASM_GZIP_COPIES[backend]);
  post({ type: 'phase', text: model.kind === 'embedded' ? 'Downloading the model…' : `Reading ${model.weights.name}…` });
  const files =
    model.kind === 'embedded'
      ? { weights: blobSource(await fetchBlob(model.weightsUrl), 'model.safetensors'), config: blobSource(await fetchBlob(model.configUrl), 'config.json'), modelIndex: undefined }
      : {
          weights: blobSource(model.weights, model.weights.name),
          config: model.config && blobSource(model.config, model.config.name),
          modelIndex: model.modelIndex && blobSource(model.modelIndex, model.modelIndex.name),
        };
  const vae = model.kind === 'files' && model.vae ? { weights: blobSource(model.vae.weights, model.vae.weights.name), config: model.vae.config && blobSource(model.vae.config, model.vae.config.name) } : undefined;
  await wasm;
  const next = await createBrowserPipeline(files, { backend, embedded: model.kind === 'embedded', threads, attention, dtype, vae }, {
    onPhase: (phase) => post({ type: 'phase', text: phase === 'building model' ? `Building the model (${backend === 'webgpu' ? 'WebGPU' : 'WASM'})…` : `${phase[0]!.toUpperCase()}${phase.slice(1)}…` }),
  });
  await pipeline?.dispose();
  pipeline = next;
  const limits = { maxSamplingSteps: MAX_SAMPLING_STEPS, maxImages: MAX_IMAGES, maxQueue: 16, maxBodyBytes: 1 << 16 };
  const info = serverInfo(next, limits);
  const classes = classNamesOf(next.info).map((names, id) => ({ id, name: names[0]!, synonyms: names.slice(1) }));
  post({ type: 'opened', info, classes, backend, seconds: (performance.now() - t0) / 1000 });
}

function refuse(id: string, err: unknown): void {
  const body = err instanceof RequestError ? err.toJSON() : { error: err instanceof Error ? err.message : String(err) };
  post({ type: 'refused', id, body });
}

function generate(id: string, request: GenerateRequest): void {
  const p = pipeline;
  if (!p) return refuse(id, new Error('no model is loaded yet'));
  let options;
  let resolved;
  try {
    options = parseGenerateBody(JSON.stringify(request));
    resolved = resolveOrReject(p.resolve, options);
  } catch (err) {
    return refuse(id, err);
  }
  const controller = new AbortController();
  controllers.set(id, controller);
  const event = (e: Parameters<typeof post>[0] & { type: 'event' }) => post(e);
  event({ type: 'event', id, event: { type: 'queued', id, position: waiting, options: toResolvedRequest(resolved) } });
  waiting++;
  queue = queue.then(async () => {
    waiting--;
    if (controller.signal.aborted) {
      event({ type: 'event', id, event: { type: 'cancelled', reason: 'cancelled while queued' } });
      return;
    }
    event({ type: 'event', id, event: { type: 'started', id } });
    const t0 = performance.now();
    try {
      const result = await p.generate(options, {
        signal: controller.signal,
        onPhase: (phase) => event({ type: 'event', id, event: { type: 'phase', phase } }),
        onStep: (s) => {
          const done = s.i + 1;
          const elapsed = (performance.now() - t0) / 1000;
          const preview = isPreviewStep(done, s.n) ? previewDataUrl(s.x0, s.shape, resolved.samplesPerRow, encodePngStored) : undefined;
          event({ type: 'event', id, event: { type: 'step', i: done, n: s.n, elapsedSeconds: elapsed, etaSeconds: (elapsed / done) * (s.n - done), ...(preview ? { preview } : {}) } });
        },
      });
      const grid = result.grid!;
      event({ type: 'event', id, event: { type: 'done', id, resultUrl: pngDataUrl(result.png!), width: grid.width, height: grid.height, timings: result.timings } });
    } catch (err) {
      if (controller.signal.aborted) event({ type: 'event', id, event: { type: 'cancelled', reason: 'cancelled' } });
      else event({ type: 'event', id, event: { type: 'failed', error: err instanceof Error ? err.message : String(err) } });
    } finally {
      controllers.delete(id);
    }
  });
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === 'open') {
    open(m.model, m).catch((err: unknown) => post({ type: 'open-failed', error: inQueryWords(err instanceof Error ? err.message : String(err)) }));
  } else if (m.type === 'generate') {
    generate(m.id, m.request);
  } else if (m.type === 'cancel') {
    controllers.get(m.id)?.abort();
  }
};
