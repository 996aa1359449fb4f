/**
 * A bulk run in a folder (`dit generate`), the pieces a front end or a queue worker composes:
 *
 *   planBulk(pipeline, generate, bulk)    the run's configuration: options resolved against the model,
 *                                         the label plan, the image size (what generate.json records)
 *   openBulkFolder(dir, config)           creates DIR and its generate.json, or checks that the one
 *                                         there is the same configuration (a resume, another shard)
 *   generateRange(pipeline, config, range, dir, opts)
 *                                         writes the missing PNGs of [start, end) in batches; safe to
 *                                         run from several processes on one shared folder
 *   scanBulkFolder(dir, n)                which indexes are there, missing, or extra
 *   mergeBulkFolder(dir)                  checks every index 0..N−1 is there, writes DIR.npz
 *
 * Image i is a pure function of (config, i) (plan.ts): its own seed and label, its own noise
 * generator, and a DiT forward whose result for one image does not depend on the batch around it
 * (ONNX Runtime's CPU kernels; the tests check it), so shards, batch sizes and resumes give the
 * same bytes. Each PNG is written to a temporary name and renamed: a PNG that exists is complete.
 */
import fs from 'node:fs';
import path from 'node:path';
import { assert, DitError, UsageError } from '../errors.js';
import { makeFolder, writeFileAtomic, writeFilesAtomic } from '../atomic-write.js';
import type { GenerateHooks, Pipeline } from '../pipeline.js';
import { DEFAULT_ATTENTION, type ResolvedBulkOptions, type UserGenerateOptions } from '../options.js';
import { encodePng, readPng } from '../image/png.js';
import { splitImages } from '../image/grid.js';
import { writeNpz } from '../checkpoint/index.js';
import { weightsIdentity } from '../model-files.js';
import type { Classifier } from '../runtime/index.js';
import { embeddedReference, embeddedRealManifold, EmbeddedScorer, SCORE_BATCH, type EmbeddedQuality } from '../sweep/quality.js';
import { chunkRanges, imageFileName, imageLabel, imageSeed, type IndexRange, type LabelPlan } from './plan.js';

export const CONFIG_FILE = 'generate.json';
const CONFIG_VERSION = 1;

/** What decides the images of a run; recorded in DIR/generate.json. Batch size and shards are not in it. */
export interface BulkConfig {
  readonly version: number;
  readonly numSamples: number;
  readonly seed: string;
  readonly labels: { readonly kind: 'balanced'; readonly classes: readonly number[] } | { readonly kind: 'random'; readonly numClasses: number };
  readonly sampling: {
    readonly cfgScale: number;
    readonly numSamplingSteps: number;
    readonly sampler: string;
    readonly guidance: string;
    readonly guidanceInterval: readonly [number, number] | null;
    readonly spacing: string;
    readonly eta: number;
  };
  /**
   * The model by what changes its numbers: architecture, weights file (name, size and, up to
   * HASHED_WEIGHTS_MAX_BYTES, sha256; model-files.ts weightsIdentity), VAE (name and size),
   * precision, device, and the attention form when it is not the device's default (so that
   * folders written before --attention existed, all with the default, stay the same configuration).
   */
  readonly model: {
    readonly embedded: boolean;
    readonly config: Readonly<Record<string, unknown>>;
    readonly weights: string;
    readonly vae: string | null;
    readonly dtype: string;
    readonly device: string;
    readonly attention?: string;
  };
  /** Each PNG: height, width (RGB; one-channel models repeat their channel, as save_image does). */
  readonly image: { readonly height: number; readonly width: number };
}

/** The label plan of a configuration (plan.ts). */
export function labelPlanOf(config: BulkConfig): LabelPlan {
  return config.labels.kind === 'balanced' ? config.labels : { kind: 'random', numClasses: config.labels.numClasses, seed: BigInt(config.seed) };
}

/** Labels of images 0..N−1. */
export function planLabels(config: BulkConfig, range: IndexRange = { start: 0, end: config.numSamples }): number[] {
  const plan = labelPlanOf(config);
  return Array.from({ length: range.end - range.start }, (_, j) => imageLabel(plan, range.start + j));
}

function fileIdentity(file: string | undefined): string {
  if (file === undefined) return 'none';
  const size = fs.existsSync(file) ? (fs.statSync(file).isDirectory() ? 'folder' : `${fs.statSync(file).size} bytes`) : 'missing';
  return `${path.basename(file)} (${size})`;
}

/**
 * The run's configuration. The generate options are `dit sample`'s, minus what a bulk run decides
 * itself: the seed is the run's global seed, labels come from the plan (class ids or names given
 * narrow the balanced cycle to those classes), and there is no grid.
 */
export function planBulk(pipeline: Pipeline, generate: UserGenerateOptions, bulk: ResolvedBulkOptions): BulkConfig {
  if (generate.numImages !== undefined) throw new UsageError('--num-images is sample\'s count: dit generate takes --num-samples');
  const narrowed = generate.classLabels !== undefined || generate.classes !== undefined;
  if (narrowed && bulk.labels === 'random') {
    throw new UsageError('--labels random draws from every class: drop --class-labels/--classes, or keep them with --labels balanced');
  }
  const numClasses = pipeline.info.config.num_classes;
  // Resolved with one class when every class is used (a 1000-class table is more than one run's images).
  const opts = pipeline.resolve({ ...generate, ...(narrowed ? {} : { classLabels: [0] }) });
  const classes = narrowed ? [...new Set(opts.labels)] : Array.from({ length: numClasses }, (_, i) => i);
  assert(pipeline.info.makesImages, 'planBulk needs a pipeline that decodes images');
  return {
    version: CONFIG_VERSION,
    numSamples: bulk.numSamples,
    seed: opts.seed.toString(),
    labels: bulk.labels === 'random' ? { kind: 'random', numClasses } : { kind: 'balanced', classes },
    sampling: {
      cfgScale: opts.cfgScale,
      numSamplingSteps: opts.numSamplingSteps,
      sampler: opts.sampler,
      guidance: opts.guidance,
      guidanceInterval: opts.guidanceInterval ?? null,
      spacing: opts.spacing,
      eta: opts.eta,
    },
    model: {
      embedded: pipeline.info.embedded,
      config: { ...pipeline.info.config },
      weights: weightsIdentity(pipeline.load),
      vae: pipeline.info.vae === undefined ? null : fileIdentity(pipeline.info.vae),
      dtype: pipeline.info.dtype,
      device: pipeline.load.device,
      ...(pipeline.info.attention === DEFAULT_ATTENTION[pipeline.load.device] ? {} : { attention: pipeline.info.attention }),
    },
    image: { height: pipeline.info.imageSize, width: pipeline.info.imageSize },
  };
}

/** The first difference between two configurations, as "field: a vs b". */
function firstDifference(a: unknown, b: unknown, where = ''): string | undefined {
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const d = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], where ? `${where}.${key}` : key);
      if (d) return d;
    }
    return undefined;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? undefined : `${where}: ${JSON.stringify(b)} there, ${JSON.stringify(a)} now`;
}

export function readBulkConfig(dir: string): BulkConfig {
  const file = path.join(dir, CONFIG_FILE);
  if (!fs.existsSync(file)) throw new UsageError(`${dir} has no ${CONFIG_FILE}: it is not a dit generate folder (run dit generate --out ${dir} first)`);
  let config: BulkConfig;
  try {
    config = JSON.parse(fs.readFileSync(file, 'utf8')) as BulkConfig;
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON (${(err as Error).message}); delete the folder to start over`);
  }
  if (config.version !== CONFIG_VERSION || !Number.isSafeInteger(config.numSamples) || config.numSamples < 1) {
    throw new UsageError(`${file} is not a generate.json of this dit version (version ${JSON.stringify(config.version)}); delete the folder to start over`);
  }
  return config;
}

/**
 * Creates `dir` with its generate.json, or checks the one there. The file is created with a hard
 * link from a complete temporary file, which fails if it exists, so two shards starting at once on
 * one folder agree on one configuration (the loser compares against the winner's).
 */
export function openBulkFolder(dir: string, config: BulkConfig): void {
  makeFolder(dir);
  const file = path.join(dir, CONFIG_FILE);
  if (!fs.existsSync(file)) {
    const temp = path.join(dir, `.${CONFIG_FILE}.${process.pid}.${Date.now()}.tmp`);
    writeFileAtomic(temp, Buffer.from(`${JSON.stringify(config, null, 1)}\n`));
    try {
      fs.linkSync(temp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new DitError(`cannot write ${file}: ${(err as Error).message}`);
    } finally {
      fs.rmSync(temp, { force: true });
    }
  }
  const there = readBulkConfig(dir);
  const diff = firstDifference(JSON.parse(JSON.stringify(config)), there);
  if (diff) {
    throw new UsageError(`${dir} holds a run with another configuration (${diff}); run with the same flags, or choose another --out folder`);
  }
}

export interface FolderScan {
  readonly present: ReadonlySet<number>;
  readonly missing: readonly number[];
  /** PNGs named like an index that is not one of this run (beyond N − 1, or the wrong width). */
  readonly extra: readonly string[];
}

/** Which of the indexes 0..n−1 have their PNG in `dir` (temporary files, starting with '.', are not counted). */
export function scanBulkFolder(dir: string, n: number, range: IndexRange = { start: 0, end: n }): FolderScan {
  const present = new Set<number>();
  const extra: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = /^(\d+)\.png$/.exec(name);
    if (!m) continue;
    const i = Number(m[1]);
    if (i < n && name === imageFileName(i, n)) present.add(i);
    else extra.push(name);
  }
  const missing: number[] = [];
  for (let i = range.start; i < range.end; i++) if (!present.has(i)) missing.push(i);
  return { present, missing, extra: extra.sort() };
}

export interface RangeProgress {
  /** Images written by this call so far. */
  readonly written: number;
  /** Images this call has to write (the missing ones of its range). */
  readonly toWrite: number;
  /** Images of the range already there when it started. */
  readonly skipped: number;
}

export interface GenerateRangeOptions {
  readonly batchSize: number;
  readonly onProgress?: (p: RangeProgress) => void;
  readonly onStep?: GenerateHooks['onStep'];
  readonly signal?: AbortSignal;
}

/** The generate options of a batch of indexes: the configuration's, with the batch's labels. */
function batchOptions(config: BulkConfig, labels: readonly number[]): UserGenerateOptions {
  const s = config.sampling;
  return {
    classLabels: labels,
    cfgScale: s.cfgScale,
    numSamplingSteps: s.numSamplingSteps,
    sampler: s.sampler,
    guidance: s.guidance,
    ...(s.guidanceInterval ? { guidanceInterval: s.guidanceInterval } : {}),
    spacing: s.spacing,
    ...(s.sampler === 'ddim' ? { eta: s.eta } : {}),
  };
}

/**
 * Writes the PNGs of [range.start, range.end) that are not in `dir` yet, `batchSize` images per
 * forward pass. Several processes may run this on overlapping ranges of one folder: an image
 * written twice is written with the same bytes, and renamed into place whole.
 */
export async function generateRange(pipeline: Pipeline, config: BulkConfig, range: IndexRange, dir: string, opts: GenerateRangeOptions): Promise<RangeProgress> {
  assert(range.start >= 0 && range.end <= config.numSamples && range.start <= range.end, () => `range [${range.start}, ${range.end}) is outside 0..${config.numSamples}`);
  const { missing } = scanBulkFolder(dir, config.numSamples, range);
  const skipped = range.end - range.start - missing.length;
  const plan = labelPlanOf(config);
  const seed = BigInt(config.seed);
  let written = 0;
  opts.onProgress?.({ written, toWrite: missing.length, skipped });
  for (const { start, end } of chunkRanges({ start: 0, end: missing.length }, opts.batchSize)) {
    const indexes = missing.slice(start, end);
    const labels = indexes.map((i) => imageLabel(plan, i));
    const result = await pipeline.generate(batchOptions(config, labels), {
      imageSeeds: indexes.map((i) => imageSeed(seed, i)),
      signal: opts.signal,
      onStep: opts.onStep,
    });
    assert(result.images, 'the pipeline decoded no images');
    const images = splitImages(result.images);
    writeFilesAtomic(images.map((im, j) => [path.join(dir, imageFileName(indexes[j]!, config.numSamples)), encodePng(im)] as const));
    written += indexes.length;
    opts.onProgress?.({ written, toWrite: missing.length, skipped });
  }
  return { written, toWrite: missing.length, skipped };
}

/** "2, 5, 7" or "2, 5, 7, … (40 in all)". */
function listSome(items: readonly (string | number)[], most = 10): string {
  const shown = items.slice(0, most).join(', ');
  return items.length > most ? `${shown}, … (${items.length} in all)` : shown;
}

/** Refuses a folder whose indexes are not exactly 0..N−1, naming the missing and extra ones. */
export function checkComplete(dir: string, config: BulkConfig): void {
  const scan = scanBulkFolder(dir, config.numSamples);
  if (scan.missing.length === 0 && scan.extra.length === 0) return;
  const parts = [];
  if (scan.missing.length > 0) parts.push(`${scan.missing.length} of ${config.numSamples} images missing (indexes ${listSome(scan.missing)})`);
  if (scan.extra.length > 0) parts.push(`${scan.extra.length} extra (${listSome(scan.extra)}: not indexes of a ${config.numSamples}-image run)`);
  throw new DitError(
    `cannot merge ${dir}: ${parts.join(' and ')}; ${scan.missing.length > 0 ? 'run dit generate again with the same flags to write the missing ones' : 'remove the extra files'}`,
  );
}

/** Where the merge writes: DIR.npz beside the folder, as sample_ddp.py does. */
export function npzPathOf(dir: string): string {
  return `${path.resolve(dir)}.npz`;
}

/**
 * Checks the folder and writes DIR.npz: `arr_0` uint8 (N, H, W, 3), the PNGs' pixels in index order,
 * as the ADM evaluator reads it (np.load(path)["arr_0"]), and `labels` int64 (N,). The PNGs are read
 * one at a time, so the archive can be larger than memory.
 */
export function mergeBulkFolder(dir: string, opts: { readonly zip64?: boolean } = {}): { readonly file: string; readonly config: BulkConfig } {
  const config = readBulkConfig(dir);
  checkComplete(dir, config);
  const n = config.numSamples;
  const { height, width } = config.image;
  const file = npzPathOf(dir);
  const labels = BigInt64Array.from(planLabels(config), (l) => BigInt(l));
  writeNpz(
    file,
    [
      {
        name: 'arr_0',
        descr: '|u1',
        shape: [n, height, width, 3],
        chunks: function* () {
          for (let i = 0; i < n; i++) {
            const name = path.join(dir, imageFileName(i, n));
            const image = readPng(name);
            if (image.width !== width || image.height !== height) {
              throw new DitError(`cannot merge ${dir}: ${path.basename(name)} is ${image.width}×${image.height}, the run's images are ${width}×${height}; delete it and run dit generate again`);
            }
            yield image.data;
          }
        },
      },
      { name: 'labels', descr: '<i8', shape: [n], chunks: () => [new Uint8Array(labels.buffer)] },
    ],
    opts,
  );
  return { file, config };
}

/**
 * The embedded model's quality numbers for a complete folder (sweep/quality.ts): FD of the
 * classifier's features against the Fashion-MNIST test set, class accuracy and mean p(label)
 * (overall and per class), and unless `precisionRecall` is false improved precision and recall
 * against the test set (a few seconds per 1,000 images: see bench/precision-recall.ts).
 */
export async function scoreBulkFolder(dir: string, classifier: Classifier, opts: { readonly precisionRecall?: boolean } = {}): Promise<EmbeddedQuality> {
  const config = readBulkConfig(dir);
  checkComplete(dir, config);
  const n = config.numSamples;
  const labels = planLabels(config);
  const scorer = new EmbeddedScorer(classifier);
  for (const { start, end } of chunkRanges({ start: 0, end: n }, SCORE_BATCH)) {
    const images = [];
    for (let i = start; i < end; i++) images.push(readPng(path.join(dir, imageFileName(i, n))));
    await scorer.add(images, labels.slice(start, end));
  }
  return scorer.finish(embeddedReference(), opts.precisionRecall === false ? undefined : embeddedRealManifold());
}
