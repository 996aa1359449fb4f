/**
 * The main thread's proxy for a pipeline that runs in a worker thread (pipeline-worker-main.ts),
 * behind the same Pipeline interface. `dit serve` needs this because ONNX Runtime's Node binding
 * runs inference synchronously on the calling thread: with the model on the main thread, the
 * HTTP server answers nothing (not even the page, or a cancel) while a step runs, and a DiT-XL/2
 * step on a CPU takes seconds.
 *
 * Options are resolved on this side too (same resolver, same model defaults), so a bad value is
 * refused at once; the worker resolves again before running, as the in-process pipeline does.
 */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { DitError, FormatError, UsageError } from '../errors.js';
import { resolveGenerateOptions, type ResolvedLoadOptions, type UserGenerateOptions, type UserLoadOptions } from '../options.js';
import type { GenerateHooks, GenerateResult, ModelInfo, Pipeline, StepInfo } from '../pipeline.js';

export type ToWorker =
  | { type: 'generate'; job: number; options: UserGenerateOptions }
  | { type: 'abort'; job: number; reason: string }
  | { type: 'dispose' };

export type FromWorker =
  | { type: 'phase'; phase: string }
  | { type: 'ready'; info: ModelInfo; load: ResolvedLoadOptions }
  | { type: 'load-failed'; error: SerializedError }
  | { type: 'step'; job: number; step: StepInfo }
  | { type: 'job-phase'; job: number; phase: string }
  | { type: 'result'; job: number; result: GenerateResult }
  | { type: 'failed'; job: number; error: SerializedError }
  | { type: 'disposed' };

export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly exitCode?: 1 | 2;
  readonly code?: string;
  readonly path?: string;
  readonly stack?: string;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof DitError) return { name: err.name, message: err.message, exitCode: err.exitCode };
  if (err instanceof Error) {
    const e = err as NodeJS.ErrnoException;
    return { name: e.name, message: e.message, code: e.code, path: e.path, stack: e.stack };
  }
  return { name: 'Error', message: String(err) };
}

/** The error as the in-process pipeline would have thrown it (class, message, exit code, errno fields). */
export function deserializeError(e: SerializedError): Error {
  if (e.name === 'UsageError') return new UsageError(e.message);
  if (e.name === 'FormatError') return new FormatError(e.message);
  if (e.exitCode !== undefined) return new DitError(e.message, e.exitCode);
  const err = new Error(e.message) as NodeJS.ErrnoException;
  err.name = e.name;
  if (e.code !== undefined) err.code = e.code;
  if (e.path !== undefined) err.path = e.path;
  if (e.stack !== undefined) err.stack = e.stack;
  return err;
}

function spawnWorker(load: UserLoadOptions): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./pipeline-worker-main.js', here), { workerData: { load } });
  // Running from the TypeScript sources (tests, tsx): the worker registers tsx, then loads the .ts module.
  // The ESM build of tsx's API (its exports' "import" condition; the CommonJS one fails in a worker).
  const tsx = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const entry = new URL('./pipeline-worker-main.ts', here).href;
  const code = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(code)}`), { workerData: { load } });
}

interface PendingJob {
  readonly hooks: GenerateHooks;
  readonly resolve: (r: GenerateResult) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * createPipeline, run in a worker thread; resolves once the model is loaded there. Aborting
 * `hooks.signal` during the load stops the worker (an unfinished compiled model is removed first)
 * and rejects with the signal's reason.
 */
export async function createWorkerPipeline(user: UserLoadOptions = {}, hooks: { onPhase?: (phase: string) => void; signal?: AbortSignal } = {}): Promise<Pipeline> {
  const worker = spawnWorker(user);
  const jobs = new Map<number, PendingJob>();
  let disposed: (() => void) | undefined;
  let exited = false;
  const failAll = (err: unknown) => {
    for (const job of jobs.values()) job.reject(err);
    jobs.clear();
  };

  const ready = new Promise<{ info: ModelInfo; load: ResolvedLoadOptions }>((resolve, reject) => {
    worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'phase':
          hooks.onPhase?.(m.phase);
          break;
        case 'ready':
          resolve(m);
          break;
        case 'load-failed':
          reject(deserializeError(m.error));
          break;
        case 'step':
          jobs.get(m.job)?.hooks.onStep?.(m.step);
          break;
        case 'job-phase':
          jobs.get(m.job)?.hooks.onPhase?.(m.phase);
          break;
        case 'result':
          jobs.get(m.job)?.resolve(m.result);
          jobs.delete(m.job);
          break;
        case 'failed':
          jobs.get(m.job)?.reject(deserializeError(m.error));
          jobs.delete(m.job);
          break;
        case 'disposed':
          disposed?.();
          break;
      }
    });
    worker.on('error', (err) => {
      reject(err);
      failAll(err);
    });
    worker.on('exit', (code) => {
      exited = true;
      const err = new DitError(`the model worker thread stopped (exit code ${code}); restart dit serve`);
      reject(err);
      failAll(err);
      disposed?.();
    });
  });

  /** Asks the worker to dispose of its pipeline (and unfinished files), then ends the thread. */
  const stop = async () => {
    if (!exited) {
      await new Promise<void>((done) => {
        disposed = done;
        worker.postMessage({ type: 'dispose' } satisfies ToWorker);
      });
    }
    await worker.terminate();
  };
  // Stopping ends the thread, and its 'exit' rejects `ready`.
  const onAbort = () => void stop();
  if (hooks.signal?.aborted) onAbort();
  else hooks.signal?.addEventListener('abort', onAbort, { once: true });
  let loaded: { info: ModelInfo; load: ResolvedLoadOptions };
  try {
    loaded = await ready;
  } catch (err) {
    await worker.terminate();
    throw hooks.signal?.aborted ? hooks.signal.reason : err;
  } finally {
    hooks.signal?.removeEventListener('abort', onAbort);
  }
  const { info, load } = loaded;
  const resolve = (options: UserGenerateOptions) => resolveGenerateOptions(options, info.defaults);
  let nextJob = 1;
  let alive = true;

  return {
    info,
    load,
    resolve,
    async generate(options = {}, gen = {}) {
      resolve(options);
      if (!alive) throw new DitError('this pipeline was disposed; create a new one');
      gen.signal?.throwIfAborted();
      const job = nextJob++;
      const send = (m: ToWorker) => worker.postMessage(m);
      return new Promise<GenerateResult>((ok, fail) => {
        jobs.set(job, { hooks: gen, resolve: ok, reject: fail });
        gen.signal?.addEventListener('abort', () => send({ type: 'abort', job, reason: String(gen.signal?.reason ?? 'aborted') }), { once: true });
        send({ type: 'generate', job, options });
      });
    },
    async dispose() {
      if (!alive) return;
      alive = false;
      if (!exited) await stop();
    },
  };
}
