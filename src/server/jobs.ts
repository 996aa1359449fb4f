/**
 * The generation queue: one job runs at a time per loaded model (a second concurrent run would
 * only split the same CPU cores and double peak memory), the rest wait in order and are told
 * their position whenever it changes. Each job has one listener, the client's event stream.
 */
import { randomUUID } from 'node:crypto';
import type { GenerateHooks, Pipeline } from '../pipeline.js';
import type { ResolvedGenerateOptions, UserGenerateOptions } from '../options.js';
import type { JobEvent, JobState, JobStatus } from './api.js';
import { isPreviewStep, previewDataUrl } from './preview.js';
import { encodePng } from '../image/png.js';
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

/** The queue's state; the functions below change it, createJobQueue only exposes them. */
interface QueueState {
  readonly pipeline: Pipeline;
  readonly opts: JobQueueOptions;
  readonly waiting: QueuedJob[];
  running: QueuedJob | undefined;
  /** Settles when the running job has finished, for drain(). */
  runningDone: Promise<void>;
  /** Jobs that ended, oldest first (insertion order), so the oldest is evicted first. */
  readonly finished: Map<string, QueuedJob>;
}

export function createJobQueue(pipeline: Pipeline, opts: JobQueueOptions): JobQueue {
  const state: QueueState = { pipeline, opts, waiting: [], running: undefined, runningDone: Promise.resolve(), finished: new Map() };
  const queue: JobQueue = {
    submit: (options, resolved, listener) => submit(state, options, resolved, listener),
    cancel: (id, reason) => cancel(state, id, reason),
    get: (id) => find(state, id),
    status(id) {
      const job = find(state, id);
      return job && statusOf(state, job);
    },
    get pending() {
      return pendingCount(state);
    },
    async drain() {
      for (const job of [...state.waiting]) cancel(state, job.id, 'the server is shutting down');
      state.running?.controller.abort('the server is shutting down');
      await state.runningDone;
    },
  };
  return queue;
}

function pendingCount(state: QueueState): number {
  return state.waiting.length + (state.running ? 1 : 0);
}

function submit(state: QueueState, options: UserGenerateOptions, resolved: ResolvedGenerateOptions, listener: (event: JobEvent) => void): Job {
  const pending = pendingCount(state);
  if (pending >= state.opts.maxQueue) {
    throw new RequestError(503, `the queue is full (${pending} jobs waiting or running, at most ${state.opts.maxQueue}); try again when a job has finished`);
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
  state.waiting.push(job);
  announcePosition(state, job);
  startNext(state);
  return job;
}

function cancel(state: QueueState, id: string, reason: string): boolean {
  const job = find(state, id);
  if (!job || (job.state !== 'queued' && job.state !== 'running')) return false;
  job.controller.abort(reason);
  if (job.state === 'running') return true; // the sampler stops before its next step; run() reports it
  state.waiting.splice(state.waiting.indexOf(job), 1);
  finish(state, job, 'cancelled', { type: 'cancelled', reason });
  for (const waiting of state.waiting) announcePosition(state, waiting);
  return true;
}

function find(state: QueueState, id: string): QueuedJob | undefined {
  if (state.running?.id === id) return state.running;
  return state.waiting.find((j) => j.id === id) ?? state.finished.get(id);
}

function statusOf(state: QueueState, job: QueuedJob): JobStatus {
  return {
    id: job.id,
    state: job.state,
    position: job.state === 'queued' ? positionOf(state, job) : 0,
    step: job.step,
    steps: job.resolved.numSamplingSteps,
    options: toResolvedRequest(job.resolved),
    resultUrl: job.png ? resultUrl(job.id) : null,
    error: job.error ?? null,
  };
}

/** Jobs ahead of this one, the running one included. */
function positionOf(state: QueueState, job: QueuedJob): number {
  if (job === state.running) return 0;
  const i = state.waiting.indexOf(job);
  return i < 0 ? 0 : i + (state.running ? 1 : 0);
}

function announcePosition(state: QueueState, job: QueuedJob): void {
  emit(job, { type: 'queued', id: job.id, position: positionOf(state, job), options: toResolvedRequest(job.resolved) });
}

function emit(job: QueuedJob, event: JobEvent): void {
  job.listener?.(event);
}

/** Runs the next waiting job unless one is running; each run's end starts the next. */
function startNext(state: QueueState): void {
  if (state.running) return;
  const next = state.waiting.shift();
  if (!next) return;
  state.running = next;
  for (const waiting of state.waiting) announcePosition(state, waiting);
  state.runningDone = run(state, next).finally(() => {
    state.running = undefined;
    startNext(state);
  });
}

async function run(state: QueueState, job: QueuedJob): Promise<void> {
  job.state = 'running';
  emit(job, { type: 'started', id: job.id });
  const progress = createStepReporter(job);
  try {
    const result = await state.pipeline.generate(job.options, { signal: job.controller.signal, onPhase: progress.onPhase, onStep: progress.onStep });
    if (!result.png || !result.grid) throw new Error('the pipeline returned no image (a latent model loaded without a VAE)');
    job.png = result.png;
    finish(state, job, 'done', {
      type: 'done',
      id: job.id,
      resultUrl: resultUrl(job.id),
      width: result.grid.width,
      height: result.grid.height,
      timings: result.timings,
    });
  } catch (err) {
    if (job.controller.signal.aborted) {
      finish(state, job, 'cancelled', { type: 'cancelled', reason: String(job.controller.signal.reason ?? 'cancelled') });
    } else {
      job.error = err instanceof Error ? err.message : String(err);
      finish(state, job, 'failed', { type: 'failed', error: job.error });
    }
  }
}

/** The pipeline hooks of one run: phases as they come, steps with an ETA and, every few steps, a preview. */
function createStepReporter(job: QueuedJob): Required<Pick<GenerateHooks, 'onPhase' | 'onStep'>> {
  let samplingStart = performance.now();
  return {
    onPhase(phase) {
      if (phase === 'sampling') samplingStart = performance.now();
      emit(job, { type: 'phase', phase });
    },
    onStep(s) {
      const done = s.i + 1;
      job.step = done;
      if (!job.listener) return;
      const elapsedSeconds = (performance.now() - samplingStart) / 1000;
      const etaSeconds = (elapsedSeconds / done) * (s.n - done);
      const preview = isPreviewStep(done, s.n) ? previewDataUrl(s.x0, s.shape, job.resolved.samplesPerRow, encodePng) : undefined;
      emit(job, { type: 'step', i: done, n: s.n, elapsedSeconds, etaSeconds, ...(preview ? { preview } : {}) });
    },
  };
}

function finish(state: QueueState, job: QueuedJob, end: 'done' | 'failed' | 'cancelled', event: JobEvent): void {
  job.state = end;
  emit(job, event);
  job.listener = undefined;
  state.finished.set(job.id, job);
  while (state.finished.size > state.opts.keepResults) state.finished.delete(state.finished.keys().next().value!);
}
