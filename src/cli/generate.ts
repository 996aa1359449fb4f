/**
 * `dit generate`: N images into a folder, one PNG per index, resumable and shardable, then DIR.npz
 * for the ADM evaluator (bulk/). The model and sampling flags are `dit sample`'s.
 *
 *   dit generate --num-samples 10000 --out samples [--batch-size 16] [--shard K/M] [sample's flags]
 *   dit generate --merge samples
 */
import type { Command } from 'commander';
import { createPipeline, type Pipeline } from '../pipeline.js';
import { checkGenerateOptionsEarly, resolveBulkOptions, resolveGenerateOptions, resolveLoadOptions } from '../options.js';
import { UsageError } from '../errors.js';
import { shardRange } from '../bulk/plan.js';
import { generateRange, mergeBulkFolder, openBulkFolder, planBulk, scanBulkFolder } from '../bulk/run.js';
import { printEmbeddedQuality } from './quality.js';
import { createProgress, formatSeconds, type Progress } from './progress.js';
import { checkWritable } from './output.js';
import { generateThroughQueue, type QueueGenerateFlags } from './generate-queue.js';
import { addFlags, BULK_FLAG_NAMES, QUEUE_FLAG_NAMES, flag, GENERATE_FLAG_NAMES, generateOptionsFrom, LOAD_FLAG_NAMES, loadOptionsFrom, type GenerateFlags, type LoadFlags } from './flags.js';

/** The queue's flags and --merge. */
interface GenerateCommandFlags extends QueueGenerateFlags {
  merge?: string;
}

/** Sample's generate flags but its grid and image count: a bulk run has --num-samples and no grid. */
const SAMPLE_FLAGS_HERE = GENERATE_FLAG_NAMES.filter((name) => name !== 'numImages' && name !== 'samplesPerRow');

export function register(program: Command): void {
  const cmd = program
    .command('generate')
    .description(
      'write --num-samples images into a folder, one PNG per index (resumable; --shard K/M for many machines), then FOLDER.npz for the ADM evaluator; --merge FOLDER only checks and merges',
    );
  addFlags(cmd, [...LOAD_FLAG_NAMES, ...SAMPLE_FLAGS_HERE, ...BULK_FLAG_NAMES, ...QUEUE_FLAG_NAMES.filter((name) => name !== 'lockDuration')]);
  cmd
    .option('--out <dir>', 'output folder: 000000.png … and generate.json (the run\'s configuration); DIR.npz is written beside it')
    .option('--merge <dir>', 'check that a generate folder holds every index and write DIR.npz (what a finished run does by itself)')
    .option('--status', 'with --queue and --out: print the run\'s chunks done/active/waiting/failed, images done, images/s and ETA')
    .option('--no-wait', 'with --queue: return once the chunks are enqueued instead of waiting for the workers and the merge')
    .addOption(flag('quiet'))
    .action(async (flags: GenerateCommandFlags) => {
      const progress = createProgress({ quiet: flags.quiet ?? false });
      if (flags.queue !== undefined || flags.status) {
        await generateThroughQueue(flags, progress);
        return;
      }
      if (flags.wait === false) throw new UsageError('--no-wait goes with --queue: without a queue dit generate writes the images itself');
      if (flags.merge !== undefined) {
        const given = ['numSamples', 'out', 'shard', 'numShards'].filter((k) => flags[k as keyof GenerateCommandFlags] !== undefined);
        if (given.length > 0) throw new UsageError(`--merge ${flags.merge} reads the folder's own configuration: drop --${given[0]!.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
        await merge(flags.merge, progress, flags.threads);
        return;
      }
      if (flags.out === undefined) throw new UsageError('--out is missing: name the folder for the images, e.g. --out samples');
      const load = resolveLoadOptions(loadOptionsFrom(flags));
      const bulk = resolveBulkOptions({ ...flags, env: process.env });
      const generate = generateOptionsFrom(flags);
      checkGenerateOptionsEarly(generate);
      checkWritable(flags.out, { directory: true });

      let pipeline: Pipeline | undefined;
      try {
        pipeline = await createPipeline(load, {
          onPhase: (p) => progress.phase(p),
          beforeBuild: (defaults) => void resolveGenerateOptions({ ...generate, numImages: undefined }, defaults),
        });
        if (!pipeline.info.makesImages) throw new UsageError('dit generate writes images, and --vae none decodes none: pass --vae ema|mse|PATH');
        const config = planBulk(pipeline, generate, bulk);
        openBulkFolder(flags.out, config);
        const n = config.numSamples;
        const range = bulk.shard ? shardRange(n, bulk.shard.index, bulk.shard.count) : { start: 0, end: n };
        const what = bulk.shard ? `shard ${bulk.shard.index}/${bulk.shard.count} (indexes ${range.start}..${range.end - 1})` : `${n} images`;
        const started = performance.now();
        const result = await generateRange(pipeline, config, range, flags.out, {
          batchSize: bulk.batchSize,
          onProgress: (p) => {
            const seconds = (performance.now() - started) / 1000;
            const rate = p.written / seconds;
            const eta = p.written > 0 ? ` · ETA ${formatSeconds((p.toWrite - p.written) / rate)}` : '';
            const skipped = p.skipped > 0 ? ` (${p.skipped} already there)` : '';
            progress.status(`${what}: ${p.written}/${p.toWrite} written${skipped}${p.written > 0 ? ` · ${rate.toFixed(2)} images/s` : ''}${eta}`, p.written === p.toWrite);
          },
        });
        const seconds = (performance.now() - started) / 1000;
        progress.done();
        if (!flags.quiet && result.written > 0) {
          process.stderr.write(`${what}: wrote ${result.written} images in ${formatSeconds(seconds)} (${(result.written / seconds).toFixed(2)} images/s)\n`);
        }
        const missing = scanBulkFolder(flags.out, n).missing.length;
        if (missing > 0) {
          // Another shard is still running: the last one to finish merges.
          if (!flags.quiet) process.stderr.write(`${flags.out}: ${n - missing} of ${n} images written; the shard that completes the set merges, or run dit generate --merge ${flags.out}\n`);
          process.stdout.write(`${flags.out}\n`);
          return;
        }
      } finally {
        await pipeline?.dispose();
      }
      await merge(flags.out, progress, flags.threads);
    });
}

/** DIR.npz, then for the embedded model its quality lines (stdout: the file, then the numbers: cli/quality.ts). */
async function merge(dir: string, progress: Progress, threads: string | undefined): Promise<void> {
  progress.phase(`merging ${dir}`);
  const { file, config } = mergeBulkFolder(dir);
  process.stdout.write(`${file}\n`);
  if (config.model.embedded) await printEmbeddedQuality(dir, progress, threads);
}
