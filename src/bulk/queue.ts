/**
 * A bulk run through a work queue: BullMQ on Redis (`dit generate --queue`, `dit worker`).
 *
 *   connectQueue(redis)              checks that Redis answers (bounded time, one error naming the URL),
 *                                    then opens the queue
 *   enqueueRun(q, run, config)       one chunk job per `chunkSize` indexes, with ids from the
 *                                    configuration's hash and the chunk's range: enqueueing the same
 *                                    run twice adds nothing; another configuration for the same
 *                                    output folder is refused
 *   runStatus(q, dir)                chunks done/active/waiting/failed, images done, images/s, the merge
 *   startWorker(redis, opts)         takes chunks (any number of processes and machines), loads the
 *                                    model once per configuration, writes into the run's folder
 *
 * The folder is shared: a job names its absolute path, which every worker must reach at that path
 * (a shared filesystem: NFS, a cluster filesystem, a Kubernetes volume with ReadWriteMany). A chunk
 * is generateRange over its indexes, so a chunk done twice (a worker that stalled, then came back)
 * writes the same bytes, and a retried chunk writes only its missing images. The worker that finds
 * the folder complete after its chunk enqueues the merge job (one id per run, so one merge); the
 * merge writes DIR.npz atomically, and running it again gives the same file.
 *
 * A worker renews its lock on a chunk every lockDuration / 2; a worker killed mid-chunk stops
 * renewing, and BullMQ's stalled-job check (every lockDuration) gives the chunk to another worker.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Queue, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { DitError, UsageError } from '../errors.js';
import { resolveLoadOptions, type ResolvedRedisUrl, type UserGenerateOptions, type UserLoadOptions } from '../options.js';
import { createPipeline, type Pipeline } from '../pipeline.js';
import type { LabelMode } from './plan.js';
import { chunkRanges, type IndexRange } from './plan.js';
import { CONFIG_FILE, generateRange, mergeBulkFolder, openBulkFolder, planBulk, scanBulkFolder, type BulkConfig } from './run.js';

export const QUEUE_NAME = 'dit-generate';
/** Milliseconds to wait for Redis to answer before saying it is unreachable. */
const CONNECT_TIMEOUT_MS = 5000;
/** Attempts of a chunk that fails with an error (a stalled chunk is retried apart from these). */
const CHUNK_ATTEMPTS = 3;

/** What a worker needs to rebuild the run: the user's options as given, the folder, the chunking. */
export interface RunSpec {
  /** Absolute path of the output folder, the same on every machine. */
  readonly dir: string;
  /** Load options but those of the machine (threads, cache folder), which each worker sets. */
  readonly load: Omit<UserLoadOptions, 'threads' | 'cacheDir' | 'noCache'>;
  readonly generate: UserGenerateOptions;
  readonly numSamples: number;
  readonly labels: LabelMode;
  readonly batchSize: number;
  readonly chunkSize: number;
  /** runHash of the configuration the enqueuer planned and the folder. */
  readonly hash: string;
}

interface ChunkData {
  readonly run: RunSpec;
  readonly start: number;
  readonly end: number;
}

/** What a chunk job returns: its images and where its time went (the benchmark reads these). */
export interface ChunkResult {
  readonly written: number;
  readonly skipped: number;
  /** Milliseconds inside generateRange. */
  readonly generateMs: number;
  /** Milliseconds loading the model for this job (0 when the worker had it). */
  readonly loadMs: number;
  /** Milliseconds from the processor's start to its end. */
  readonly jobMs: number;
  readonly worker: string;
}

/**
 * sha256 of the configuration and the output folder, 16 hex digits: what names a run's jobs (the
 * same configuration into two folders is two runs).
 */
export function runHash(config: BulkConfig, dir: string): string {
  return crypto.createHash('sha256').update(JSON.stringify([config, dir])).digest('hex').slice(0, 16);
}

export const chunkJobId = (hash: string, r: IndexRange): string => `${hash}-${r.start}-${r.end}`;
export const mergeJobId = (hash: string): string => `${hash}-merge`;
/** The Redis key that ties an output folder to one configuration. */
const runKey = (dir: string): string => `${QUEUE_NAME}:run:${dir}`;

/** BullMQ's connection options: reconnecting after a drop (a worker outlives a Redis restart). */
function connectionOf(redis: ResolvedRedisUrl): ConnectionOptions {
  return {
    host: redis.host,
    port: redis.port,
    db: redis.db,
    username: redis.username,
    password: redis.password,
    ...(redis.tls ? { tls: {} } : {}),
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(times * 500, 5000),
  };
}

/**
 * Fails in bounded time, with one line naming the URL, when Redis does not answer (ioredis alone
 * would retry forever): one connection attempt, no reconnection, no offline queue.
 */
async function checkReachable(redis: ResolvedRedisUrl, keep = false): Promise<Redis> {
  const client = new Redis({
    ...(connectionOf(redis) as object),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError: Error | undefined;
  client.on('error', (err: Error) => (lastError = err));
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    client.disconnect();
    const why = (lastError ?? (err as Error)).message || (err as Error).message;
    throw new DitError(`cannot reach Redis at ${redis.display}: ${why}; start redis-server there or fix --queue`);
  }
  if (!keep) client.disconnect();
  return client;
}

export interface QueueClient {
  readonly queue: Queue;
  /** A plain client for the run records (and job existence). */
  readonly client: Redis;
  readonly redis: ResolvedRedisUrl;
  close(): Promise<void>;
}

export async function connectQueue(redis: ResolvedRedisUrl): Promise<QueueClient> {
  const client = await checkReachable(redis, true);
  const queue = new Queue(QUEUE_NAME, { connection: connectionOf(redis) });
  queue.on('error', () => {});
  return {
    queue,
    client,
    redis,
    async close() {
      await queue.close();
      client.disconnect();
    },
  };
}

interface RunRecord {
  readonly hash: string;
  readonly chunkSize: number;
  readonly numSamples: number;
  readonly enqueuedAt: number;
}

export interface EnqueueResult {
  readonly chunks: number;
  readonly added: number;
  /** Failed chunks of an earlier enqueue, put back in the queue. */
  readonly retried: number;
}

/**
 * Refuses a run when the queue holds jobs for its folder from another configuration or chunking
 * (read only: enqueueRun checks again as it claims the folder).
 */
export async function checkRun(q: QueueClient, run: RunSpec): Promise<void> {
  const text = await q.client.get(runKey(run.dir));
  if (text === null) return;
  const there = JSON.parse(text) as Partial<RunRecord>;
  if (there.hash !== run.hash) {
    throw new UsageError(
      `${q.redis.display} holds jobs for ${run.dir} from another configuration (${there.hash} there, ${run.hash} now): run with the same flags, or choose another --out folder`,
    );
  }
  if (there.chunkSize !== run.chunkSize) {
    throw new UsageError(`${q.redis.display} holds jobs for ${run.dir} in chunks of ${there.chunkSize}: pass --chunk-size ${there.chunkSize} to resume that run`);
  }
}

/**
 * Enqueues the chunks of a run (the folder must already hold its generate.json: openBulkFolder).
 * Job ids are the configuration's hash and the chunk's range, and BullMQ keeps a job id once, so
 * running the same command again adds nothing (and puts failed chunks back).
 */
export async function enqueueRun(q: QueueClient, run: RunSpec): Promise<EnqueueResult> {
  const { queue, client: redis } = q;
  const record: RunRecord = { hash: run.hash, chunkSize: run.chunkSize, numSamples: run.numSamples, enqueuedAt: Date.now() };
  const set = await redis.set(runKey(run.dir), JSON.stringify(record), 'NX');
  if (set === null) await checkRun(q, run);
  const ranges = chunkRanges({ start: 0, end: run.numSamples }, run.chunkSize);
  const ids = ranges.map((r) => chunkJobId(run.hash, r));
  const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
  const exists = states.map((state) => state !== 'unknown');
  let retried = 0;
  for (const [j, id] of ids.entries()) {
    if (states[j] === 'failed') {
      await (await queue.getJob(id))!.retry('failed');
      retried++;
    }
  }
  const toAdd = ranges.filter((_, j) => !exists[j]);
  for (const part of chunkRanges({ start: 0, end: toAdd.length }, 500)) {
    await queue.addBulk(
      toAdd.slice(part.start, part.end).map((r) => ({
        name: 'chunk',
        data: { run, start: r.start, end: r.end } satisfies ChunkData,
        opts: { jobId: chunkJobId(run.hash, r), attempts: CHUNK_ATTEMPTS, backoff: { type: 'fixed', delay: 1000 } },
      })),
    );
  }
  return { chunks: ranges.length, added: toAdd.length, retried };
}

export interface FailedChunk {
  readonly id: string;
  readonly reason: string;
}

export interface RunStatus {
  readonly run: RunRecord;
  readonly chunks: number;
  readonly done: number;
  readonly active: number;
  readonly waiting: number;
  readonly failed: readonly FailedChunk[];
  readonly imagesDone: number;
  /** Images per second since the first chunk started; undefined before any image. */
  readonly rate: number | undefined;
  /** Seconds left at that rate. */
  readonly eta: number | undefined;
  readonly merge: { readonly state: string; readonly file?: string; readonly reason?: string };
}

/** The run's state across the fleet, from the queue alone (no access to the folder needed). */
export async function runStatus(q: QueueClient, dir: string): Promise<RunStatus | undefined> {
  const { queue, client: redis } = q;
  const text = await redis.get(runKey(dir));
  if (text === null) return undefined;
  const run = JSON.parse(text) as RunRecord;
  const ranges = chunkRanges({ start: 0, end: run.numSamples }, run.chunkSize);
  // States first, then the jobs: a job read after its state is at least that far along (a completed one has its result).
  const ids = ranges.map((r) => chunkJobId(run.hash, r));
  const states = await Promise.all(ids.map((id) => queue.getJobState(id)));
  const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
  let done = 0;
  let active = 0;
  let waiting = 0;
  let imagesDone = 0;
  let firstStart = Infinity;
  const failed: FailedChunk[] = [];
  for (const [j, job] of jobs.entries()) {
    const size = ranges[j]!.end - ranges[j]!.start;
    const state = states[j];
    if (job?.processedOn !== undefined) firstStart = Math.min(firstStart, job.processedOn);
    if (state === 'completed') {
      done++;
      imagesDone += size;
    } else if (state === 'active') {
      active++;
      if (typeof job!.progress === 'number') imagesDone += Math.min(size, job!.progress);
    } else if (state === 'failed') failed.push({ id: job!.id!, reason: job!.failedReason ?? 'unknown' });
    else waiting++;
  }
  const seconds = (Date.now() - firstStart) / 1000;
  const rate = imagesDone > 0 && Number.isFinite(firstStart) && seconds > 0 ? imagesDone / seconds : undefined;
  const eta = rate === undefined ? undefined : (run.numSamples - imagesDone) / rate;
  const mergeState = await queue.getJobState(mergeJobId(run.hash));
  const mergeJob = await queue.getJob(mergeJobId(run.hash));
  const merge = {
    state: mergeState === 'unknown' ? 'not yet' : mergeState,
    ...(mergeState === 'completed' ? { file: (mergeJob!.returnvalue as { file: string }).file } : {}),
    ...(mergeState === 'failed' ? { reason: mergeJob!.failedReason } : {}),
  };
  return { run, chunks: ranges.length, done, active, waiting, failed, imagesDone, rate, eta, merge };
}

/** One line: "12/40 chunks done, 2 active, 26 waiting, 0 failed · 768/2560 images · 35.1 images/s · ETA 51 s · merge: not yet". */
export function formatStatus(s: RunStatus, formatSeconds: (s: number) => string): string {
  const rate = s.rate === undefined ? '' : ` · ${s.rate.toFixed(1)} images/s`;
  const eta = s.eta === undefined || s.done === s.chunks ? '' : ` · ETA ${formatSeconds(s.eta)}`;
  const merge = s.merge.file ?? s.merge.state;
  return `${s.done}/${s.chunks} chunks done, ${s.active} active, ${s.waiting} waiting, ${s.failed.length} failed · ${s.imagesDone}/${s.run.numSamples} images${rate}${eta} · merge: ${merge}`;
}

export interface WorkerOptions {
  /** The machine's own load options (applied over each job's). */
  readonly threads?: string;
  readonly cacheDir?: string;
  readonly noCache?: boolean;
  readonly lockSeconds: number;
  /** One line per event (a chunk taken, done, failed; a model loaded). */
  readonly log: (line: string) => void;
  /** A name for this worker in logs and results (default host:pid). */
  readonly name?: string;
}

export interface RunningWorker {
  /** Stops taking chunks and waits for the current one. */
  close(): Promise<void>;
}

/**
 * Takes chunk and merge jobs, one at a time (one pipeline uses the machine's cores), until closed.
 * The model is loaded on the first chunk of a configuration and kept while chunks of that
 * configuration come.
 */
export async function startWorker(redis: ResolvedRedisUrl, opts: WorkerOptions): Promise<RunningWorker> {
  await checkReachable(redis);
  const name = opts.name ?? `${process.env.HOSTNAME ?? 'worker'}:${process.pid}`;
  let loaded: { key: string; pipeline: Pipeline; config: BulkConfig } | undefined;
  const queue = new Queue(QUEUE_NAME, { connection: connectionOf(redis) });
  queue.on('error', () => {});

  /** The pipeline and configuration of a run: loaded once per configuration, checked against the run's hash every time. */
  async function pipelineFor(run: RunSpec): Promise<{ pipeline: Pipeline; config: BulkConfig; loadMs: number }> {
    const key = JSON.stringify([run.load, run.generate, run.numSamples, run.labels]);
    let loadMs = 0;
    if (loaded?.key !== key) {
      const t0 = performance.now();
      await loaded?.pipeline.dispose();
      loaded = undefined;
      const load = resolveLoadOptions({ ...run.load, threads: opts.threads, cacheDir: opts.cacheDir, noCache: opts.noCache });
      const pipeline = await createPipeline(load);
      const config = planBulk(pipeline, run.generate, { numSamples: run.numSamples, batchSize: run.batchSize, labels: run.labels, shard: undefined });
      loaded = { key, pipeline, config };
      loadMs = performance.now() - t0;
      opts.log(`${name}: loaded the model of run ${run.hash} in ${(loadMs / 1000).toFixed(1)} s`);
    }
    const hash = runHash(loaded.config, run.dir);
    if (hash !== run.hash) {
      throw new DitError(`on ${name} the run's options give another configuration (${hash}, the run's is ${run.hash}): the model files differ between machines`);
    }
    return { pipeline: loaded.pipeline, config: loaded.config, loadMs };
  }

  async function chunk(job: Job<ChunkData>): Promise<ChunkResult> {
    const t0 = performance.now();
    const { run, start, end } = job.data;
    if (!fs.existsSync(path.join(run.dir, CONFIG_FILE))) {
      throw new DitError(`${run.dir} has no ${CONFIG_FILE} on ${name}: the output folder must be on a filesystem every worker mounts at the same path`);
    }
    const { pipeline, config, loadMs } = await pipelineFor(run);
    openBulkFolder(run.dir, config);
    opts.log(`${name}: chunk ${start}-${end} of run ${run.hash} started`);
    const g0 = performance.now();
    const result = await generateRange(pipeline, config, { start, end }, run.dir, {
      batchSize: run.batchSize,
      onProgress: (p) => void job.updateProgress(p.skipped + p.written).catch(() => {}),
    });
    const generateMs = performance.now() - g0;
    opts.log(`${name}: chunk ${start}-${end} of run ${run.hash} done (${result.written} written, ${result.skipped} already there)`);
    if (scanBulkFolder(run.dir, config.numSamples).missing.length === 0) await queue.add('merge', { run }, { jobId: mergeJobId(run.hash), attempts: CHUNK_ATTEMPTS });
    return { written: result.written, skipped: result.skipped, generateMs, loadMs, jobMs: performance.now() - t0, worker: name };
  }

  function merge(job: Job<{ run: RunSpec }>): { file: string } {
    const { file } = mergeBulkFolder(job.data.run.dir);
    opts.log(`${name}: merged run ${job.data.run.hash} into ${file}`);
    return { file };
  }

  const worker = new Worker(QUEUE_NAME, async (job: Job) => (job.name === 'merge' ? merge(job) : chunk(job as Job<ChunkData>)), {
    connection: connectionOf(redis),
    concurrency: 1,
    lockDuration: opts.lockSeconds * 1000,
    stalledInterval: opts.lockSeconds * 1000,
    // A chunk whose worker dies is retried; one that stalls this often has something wrong with it.
    maxStalledCount: 5,
  });
  worker.on('error', (err) => opts.log(`${name}: ${err.message}`));
  worker.on('failed', (job, err) => opts.log(`${name}: job ${job?.id ?? '?'} failed: ${err.message}`));
  await worker.waitUntilReady();
  return {
    async close() {
      await worker.close();
      await queue.close();
      await loaded?.pipeline.dispose();
    },
  };
}
