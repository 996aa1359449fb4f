/**
 * The generation queue: one job runs at a time per loaded model (a second concurrent run would
 * only split the same CPU cores and double peak memory), the rest wait in order and are told
 * their position whenever it changes. Each job has one listener, the client's event stream.
 */
import { randomUUID } from 'node:crypto';
import type { Pipeline } from '../pipeline.js';
import type { ResolvedGenerateOptions, UserGenerateOptions } from '../options.js';
import type { JobEvent, JobState, JobStatus } from './api.js';
import { previewDataUrl, previewEvery } from './preview.js';
import { RequestError, toResolvedRequest } from './request.js';

export interface Job {
  readonly id: string;
  readonly options: UserGenerateOptions;
  readonly resolved: ResolvedGenerateOptions;
  state: JobState;
  step: number;
  png: Uint8Array | undefined;
  error: string | undefined;
}

interface QueuedJob extends Job {
  readonly controller: AbortController;
  listener: ((event: JobEvent) => void) | undefined;
}

export interface JobQueueOptions {
  /** Most jobs waiting or running at once; further submissions get 503. */
  readonly maxQueue: number;
  /** Finished jobs whose result PNG stays available. */
  readonly keepResults: number;
}

export interface JobQueue {
  /** Queues a job; `listener` gets its events until it ends. Throws RequestError(503) when full. */
  submit(options: UserGenerateOptions, resolved: ResolvedGenerateOptions, listener: (event: JobEvent) => void): Job;
  /** Cancels a queued or running job; false when it is unknown or already over. */
  cancel(id: string, reason: string): boolean;
  get(id: string): Job | undefined;
  status(id: string): JobStatus | undefined;
  /** Jobs waiting or running. */
  readonly pending: number;
  /** Resolves once nothing is running (after cancelling everything, for shutdown). */
  drain(): Promise<void>;
}

export function resultUrl(id: string): string {
  return `/api/jobs/${id}/result.png`;
}

export function createJobQueue(pipeline: Pipeline, opts: JobQueueOptions): JobQueue {
  const waiting: QueuedJob[] = [];
  let running: QueuedJob | undefined;
  let runningDone: Promise<void> = Promise.resolve();
  const finished = new Map<string, QueuedJob>(); // insertion order = age, for eviction

  const emit = (job: QueuedJob, event: JobEvent) => job.listener?.(event);

  function positionOf(job: QueuedJob): number {
    if (job === running) return 0;
    const i = waiting.indexOf(job);
    return i < 0 ? 0 : i + (running ? 1 : 0);
  }

  function announcePositions(): void {
    for (const job of waiting) {
      emit(job, { type: 'queued', id: job.id, position: positionOf(job), options: toResolvedRequest(job.resolved) });
    }
  }

  function finish(job: QueuedJob, state: 'done' | 'failed' | 'cancelled', event: JobEvent): void {
    job.state = state;
    emit(job, event);
    job.listener = undefined;
    finished.set(job.id, job);
    while (finished.size > opts.keepResults) finished.delete(finished.keys().next().value!);
  }

  async function run(job: QueuedJob): Promise<void> {
    job.state = 'running';
    emit(job, { type: 'started', id: job.id });
    const every = previewEvery(job.resolved.numSamplingSteps);
    let samplingStart = performance.now();
    try {
      const result = await pipeline.generate(job.options, {
        signal: job.controller.signal,
        onPhase: (phase) => {
          if (phase === 'sampling') samplingStart = performance.now();
          emit(job, { type: 'phase', phase });
        },
        onStep: (s) => {
          const done = s.i + 1;
          job.step = done;
          if (!job.listener) return;
          const elapsedSeconds = (performance.now() - samplingStart) / 1000;
          const etaSeconds = (elapsedSeconds / done) * (s.n - done);
          const preview = done % every === 0 || done === s.n ? previewDataUrl(s.x0, s.shape, job.resolved.samplesPerRow) : undefined;
          emit(job, { type: 'step', i: done, n: s.n, elapsedSeconds, etaSeconds, ...(preview ? { preview } : {}) });
        },
      });
      if (!result.png || !result.grid) throw new Error('the pipeline returned no image (a latent model loaded without a VAE)');
      job.png = result.png;
      finish(job, 'done', {
        type: 'done',
        id: job.id,
        resultUrl: resultUrl(job.id),
        width: result.grid.width,
        height: result.grid.height,
        timings: result.timings,
      });
    } catch (err) {
      if (job.controller.signal.aborted) {
        finish(job, 'cancelled', { type: 'cancelled', reason: String(job.controller.signal.reason ?? 'cancelled') });
      } else {
        job.error = err instanceof Error ? err.message : String(err);
        finish(job, 'failed', { type: 'failed', error: job.error });
      }
    }
  }

  function pump(): void {
    if (running) return;
    const next = waiting.shift();
    if (!next) return;
    running = next;
    announcePositions();
    runningDone = run(next).finally(() => {
      running = undefined;
      pump();
    });
  }

  function find(id: string): QueuedJob | undefined {
    if (running?.id === id) return running;
    return waiting.find((j) => j.id === id) ?? finished.get(id);
  }

  return {
    submit(options, resolved, listener) {
      const pendingCount = waiting.length + (running ? 1 : 0);
      if (pendingCount >= opts.maxQueue) {
        throw new RequestError(503, `the queue is full (${pendingCount} jobs waiting or running, at most ${opts.maxQueue}); try again when a job has finished`);
      }
      const job: QueuedJob = {
        id: randomUUID(),
        options,
        resolved,
        state: 'queued',
        step: 0,
        png: undefined,
        error: undefined,
        controller: new AbortController(),
        listener,
      };
      waiting.push(job);
      emit(job, { type: 'queued', id: job.id, position: positionOf(job), options: toResolvedRequest(resolved) });
      pump();
      return job;
    },

    cancel(id, reason) {
      const job = find(id);
      if (!job || (job.state !== 'queued' && job.state !== 'running')) return false;
      if (job.state === 'running') {
        job.controller.abort(reason); // the sampler stops before its next step; run() reports it
        return true;
      }
      waiting.splice(waiting.indexOf(job), 1);
      job.controller.abort(reason);
      finish(job, 'cancelled', { type: 'cancelled', reason });
      announcePositions();
      return true;
    },

    get: find,

    status(id) {
      const job = find(id);
      if (!job) return undefined;
      return {
        id: job.id,
        state: job.state,
        position: job.state === 'queued' ? positionOf(job) : 0,
        step: job.step,
        steps: job.resolved.numSamplingSteps,
        options: toResolvedRequest(job.resolved),
        resultUrl: job.png ? resultUrl(job.id) : null,
        error: job.error ?? null,
      };
    },

    get pending() {
      return waiting.length + (running ? 1 : 0);
    },

    async drain() {
      for (const job of [...waiting]) this.cancel(job.id, 'the server is shutting down');
      if (running) running.controller.abort('the server is shutting down');
      await runningDone;
    },
  };
}
