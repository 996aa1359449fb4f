/**
 * `dit generate --queue redis://…`: plans the run, enqueues its chunks for `dit worker`s (bulk/queue.ts),
 * then waits for the merge showing the fleet's progress (or returns at once with --no-wait) and, for
 * the embedded model, prints the same quality lines as a local run (cli/quality.ts);
 * `dit generate --status --queue … --out DIR` prints the run's progress once.
 */
import path from 'node:path';
import { createPipeline, type Pipeline } from '../pipeline.js';
import { checkGenerateOptionsEarly, resolveBulkOptions, resolveGenerateOptions, resolveLoadOptions, resolveQueueOptions } from '../options.js';
import { DitError, UsageError } from '../errors.js';
import { openBulkFolder, planBulk } from '../bulk/run.js';
import { checkRun, runHash, connectQueue, enqueueRun, formatStatus, runStatus, type QueueClient, type RunSpec } from '../bulk/queue.js';
import { formatSeconds, type Progress } from './progress.js';
import { checkWritable } from './output.js';
import { generateOptionsFrom, loadOptionsFrom, type GenerateFlags, type LoadFlags } from './flags.js';
import { printEmbeddedQuality } from './quality.js';

export interface QueueGenerateFlags extends LoadFlags, GenerateFlags {
  numSamples?: string;
  batchSize?: string;
  labels?: string;
  shard?: string;
  numShards?: string;
  out?: string;
  queue?: string;
  chunkSize?: string;
  status?: boolean;
  wait?: boolean;
  quiet?: boolean;
}

/** How often the waiting client asks Redis for the run's state. */
const POLL_MS = 1000;

export async function generateThroughQueue(flags: QueueGenerateFlags, progress: Progress): Promise<void> {
  if (flags.queue === undefined) throw new UsageError('--status reads a run from its queue: pass --queue redis://HOST:PORT and --out DIR');
  const queueOptions = resolveQueueOptions({ queue: flags.queue, chunkSize: flags.chunkSize });
  if (flags.out === undefined) throw new UsageError('--out is missing: name the folder for the images, e.g. --out samples');
  const dir = path.resolve(flags.out);
  if (flags.status) {
    const q = await connectQueue(queueOptions.redis);
    try {
      const s = await runStatus(q, dir);
      if (s === undefined) throw new UsageError(`${queueOptions.redis.display} has no run for ${dir}: enqueue it with dit generate --queue … --out ${flags.out}`);
      process.stdout.write(`${formatStatus(s, formatSeconds)}\n`);
    } finally {
      await q.close();
    }
    return;
  }
  const load = loadOptionsFrom(flags);
  const bulk = resolveBulkOptions({ ...flags, env: {} });
  if (flags.shard !== undefined || flags.numShards !== undefined) throw new UsageError('--queue splits the run into chunks for its workers: drop --shard/--num-shards');
  const generate = generateOptionsFrom(flags);
  checkGenerateOptionsEarly(generate);
  checkWritable(dir, { directory: true });
  const q = await connectQueue(queueOptions.redis);
  let embedded = false;
  try {
    let pipeline: Pipeline | undefined;
    let run: RunSpec;
    try {
      pipeline = await createPipeline(resolveLoadOptions(load), {
        onPhase: (p) => progress.phase(p),
        beforeBuild: (defaults) => void resolveGenerateOptions({ ...generate, numImages: undefined }, defaults),
      });
      if (!pipeline.info.makesImages) throw new UsageError('dit generate writes images, and --vae none decodes none: pass --vae ema|mse|PATH');
      const config = planBulk(pipeline, generate, bulk);
      embedded = config.model.embedded;
      const { threads: _t, cacheDir: _c, noCache: _n, ...shared } = load;
      run = { dir, load: shared, generate, numSamples: bulk.numSamples, labels: bulk.labels, batchSize: bulk.batchSize, chunkSize: queueOptions.chunkSize, hash: runHash(config, dir) };
      // The queue's record of the folder first (its message names the queue), then the folder's own.
      await checkRun(q, run);
      openBulkFolder(dir, config);
    } finally {
      await pipeline?.dispose();
    }
    const r = await enqueueRun(q, run);
    if (!flags.quiet) {
      const retried = r.retried > 0 ? `, ${r.retried} failed ones put back` : '';
      process.stderr.write(`${q.redis.display}: run ${run.hash} for ${dir}: ${r.added} of ${r.chunks} chunks enqueued (${r.chunks - r.added} were there${retried}); start workers with dit worker --queue ${flags.queue}\n`);
    }
    if (flags.wait === false) {
      process.stdout.write(`${dir}\n`);
      return;
    }
    process.stdout.write(`${await waitForRun(q, dir, progress)}\n`);
  } finally {
    await q.close();
  }
  // The folder is shared with the workers (they wrote it): score it here, as a local run does.
  if (embedded) await printEmbeddedQuality(dir, progress, flags.threads);
}

/** Polls the run until its merge is done (returns DIR.npz) or a chunk or the merge has failed for good. */
async function waitForRun(q: QueueClient, dir: string, progress: Progress): Promise<string> {
  for (;;) {
    const s = await runStatus(q, dir);
    if (s === undefined) throw new DitError(`the run for ${dir} is gone from ${q.redis.display} (was its database flushed?)`);
    const finished = s.merge.file !== undefined;
    progress.status(formatStatus(s, formatSeconds), finished);
    if (finished) {
      progress.done();
      return s.merge.file!;
    }
    if (s.failed.length > 0) {
      progress.done();
      const f = s.failed[0]!;
      throw new DitError(`${s.failed.length} chunk(s) failed for good (${f.id}: ${f.reason}); fix the cause and run the same dit generate --queue command again to put them back`);
    }
    if (s.merge.state === 'failed') throw new DitError(`the merge of ${dir} failed (${s.merge.reason}); run dit generate --merge ${dir}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
