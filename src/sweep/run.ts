/**
 * Runs a sweep plan cell by cell into an output folder, resumably:
 *   DIR/sweep.json            the plan's fingerprint (a rerun must match it)
 *   DIR/cells/<id>.png        each cell's own grid
 *   DIR/cells/<id>.json       each cell's timings and metrics, written last (its presence = done)
 *   DIR/grid.png              the labelled contact sheet
 *   DIR/report.md, report.json
 * A sweep stopped half-way continues from the cells already written when run again with the same
 * arguments; different arguments into the same folder are refused.
 */
import fs from 'node:fs';
import path from 'node:path';
import { assert, UsageError } from '../errors.js';
import type { Pipeline } from '../pipeline.js';
import { decodePng, encodePng } from '../image/png.js';
import { makeFolder, writeFileAtomic } from '../atomic-write.js';
import { composeSheet, type SheetCell } from '../image/sheet.js';
import { upscaleNearest } from '../image/scale.js';
import { splitImages, type ImageBatch, type RgbImage } from '../image/grid.js';
import { embeddedFd } from './quality.js';
import type { Classifier } from '../runtime/index.js';
import type { SweepCell, SweepPlan } from './plan.js';
import { laplacianVariance, meanPairwiseDistance, meanSaturation, meanWithinClassDistance, scoreLogits } from './metrics.js';
import { renderReport } from './report.js';

export interface CellMetrics {
  /** Mean pairwise RMS distance between the cell's images (all classes). */
  readonly diversity: number;
  /** Variance of the Laplacian of luminance, mean over images. */
  readonly sharpness: number;
  /** Mean HSV saturation (RGB images only). */
  readonly saturation?: number;
  /** Share of images the classifier assigns to their label. */
  readonly classAccuracy?: number;
  readonly classConfidence?: number;
  /** Mean pairwise distance among images of the same label. */
  readonly withinClassDiversity?: number;
  /**
   * Fréchet distance of the classifier's features of the cell's images to the Fashion-MNIST test
   * set's (sweep/quality.ts): biased upward and noisy for few images, so comparable only between
   * cells of equally many images.
   */
  readonly fd?: number;
}

export interface CellResult {
  readonly id: string;
  readonly row: number;
  readonly column: number;
  readonly values: Readonly<Record<string, string>>;
  readonly settings: {
    readonly cfgScale: number;
    readonly numSamplingSteps: number;
    readonly sampler: string;
    readonly guidance: string;
    readonly guidanceInterval: readonly [number, number] | null;
    readonly seed: string;
    readonly labels: readonly number[];
  };
  readonly seconds: { readonly sample: number; readonly decode: number; readonly perStep: number };
  readonly metrics: CellMetrics;
  readonly image: string; // relative to the sweep folder
}

export interface SweepProgress {
  readonly cell: number; // 1-based
  readonly cells: number;
  readonly step: number; // 1-based, 0 for a cell taken from a previous run
  readonly steps: number;
  /** Seconds left for the whole sweep, from the measured time per step; NaN until measurable. */
  readonly etaSeconds: number;
}

export interface SweepRunOptions {
  readonly plan: SweepPlan;
  readonly pipeline: Pipeline;
  readonly outDir: string;
  readonly title: string;
  readonly classifier?: Classifier;
  readonly onProgress?: (p: SweepProgress) => void;
  readonly signal?: AbortSignal;
}

export interface SweepResult {
  readonly cells: readonly CellResult[];
  readonly resumed: number;
  readonly files: { readonly sheet: string; readonly markdown: string; readonly json: string };
}

export async function computeCellMetrics(images: ImageBatch, labels: readonly number[], classifier?: Classifier): Promise<CellMetrics> {
  const base = {
    diversity: meanPairwiseDistance(images),
    sharpness: laplacianVariance(images),
    ...(images.shape[1] === 3 ? { saturation: meanSaturation(images) } : {}),
  };
  if (!classifier) return base;
  const scores = scoreLogits(await classifier.classify(images), classifier.numClasses, labels);
  // FD on the 8-bit pixels, as the PNGs and the test set hold them; a covariance needs 2 images.
  const fd = labels.length >= 2 ? (await embeddedFd(classifier, splitImages(images), labels)).fd : NaN;
  return {
    ...base,
    classAccuracy: scores.accuracy,
    classConfidence: scores.meanConfidence,
    withinClassDiversity: meanWithinClassDistance(images, labels),
    fd,
  };
}

function checkPlanFolder(outDir: string, plan: SweepPlan): void {
  const marker = path.join(outDir, 'sweep.json');
  if (fs.existsSync(marker)) {
    const previous = JSON.parse(fs.readFileSync(marker, 'utf8')) as { fingerprint?: string; model?: string };
    if (previous.fingerprint !== plan.fingerprint) {
      const why = previous.model !== undefined && previous.model !== plan.modelId ? `its cells come from ${previous.model}, this run is ${plan.modelId}` : 'other flags or model';
      throw new UsageError(`--out ${outDir} holds a different sweep (${why}); resume it with the same flags, or choose another --out folder or delete it to start over`);
    }
    return;
  }
  if (fs.existsSync(outDir) && fs.readdirSync(outDir).length > 0) {
    throw new UsageError(`--out ${outDir} is not empty and holds no sweep; choose an empty or new folder`);
  }
  // The marker first: a folder left by a failed start is either empty or marked, never blocking a rerun.
  makeFolder(outDir);
  writeFileAtomic(marker, Buffer.from(JSON.stringify({ fingerprint: plan.fingerprint, model: plan.modelId, rows: plan.rows, columns: plan.columns, base: plan.base }, null, 1)));
  makeFolder(path.join(outDir, 'cells'));
}

function readDoneCell(outDir: string, cell: SweepCell): CellResult | undefined {
  const file = path.join(outDir, 'cells', `${cell.id}.json`);
  if (!fs.existsSync(file) || !fs.existsSync(path.join(outDir, 'cells', `${cell.id}.png`))) return undefined;
  const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as CellResult;
  // JSON writes NaN (a metric that cannot be measured, e.g. diversity of one image) as null.
  const metrics = Object.fromEntries(Object.entries(saved.metrics).map(([k, v]) => [k, v === null ? NaN : v])) as unknown as CellMetrics;
  return { ...saved, metrics };
}

export async function runSweep(opts: SweepRunOptions): Promise<SweepResult> {
  const { plan, pipeline, outDir } = opts;
  if (!pipeline.info.makesImages) {
    throw new UsageError('dit sweep compares images, and --vae none decodes none: pass --vae ema|mse|PATH');
  }
  // Validate every cell before any work: a bad value in the last column fails now, not in an hour.
  const stepsPerCell = plan.cells.map((cell) => pipeline.resolve(cell.options).numSamplingSteps);
  checkPlanFolder(outDir, plan);

  const results: CellResult[] = [];
  const images: (RgbImage | null)[] = [];
  let stepsLeft = stepsPerCell.reduce((a, b) => a + b, 0);
  let measuredSteps = 0;
  let measuredSeconds = 0;
  let resumed = 0;

  for (const [k, cell] of plan.cells.entries()) {
    const steps = stepsPerCell[k]!;
    const done = readDoneCell(outDir, cell);
    if (done) {
      results.push(done);
      images.push(decodePng(fs.readFileSync(path.join(outDir, done.image))));
      stepsLeft -= steps;
      resumed++;
      opts.onProgress?.({ cell: k + 1, cells: plan.cells.length, step: 0, steps, etaSeconds: NaN });
      continue;
    }
    const started = performance.now();
    const result = await pipeline.generate(cell.options, {
      signal: opts.signal,
      onStep: (s) => {
        const elapsed = measuredSeconds + (performance.now() - started) / 1000;
        const rate = (measuredSteps + s.i + 1) / elapsed;
        opts.onProgress?.({
          cell: k + 1,
          cells: plan.cells.length,
          step: s.i + 1,
          steps,
          etaSeconds: (stepsLeft - s.i - 1) / rate,
        });
      },
    });
    assert(result.images && result.png && result.grid, 'the pipeline returned no images to compare');
    measuredSteps += steps;
    measuredSeconds += result.timings.sampleSeconds;
    stepsLeft -= steps;

    const o = result.options;
    const cellResult: CellResult = {
      id: cell.id,
      row: cell.row,
      column: cell.column,
      values: cell.values,
      settings: {
        cfgScale: o.cfgScale,
        numSamplingSteps: o.numSamplingSteps,
        sampler: o.sampler,
        guidance: o.guidance,
        guidanceInterval: o.guidanceInterval ?? null,
        seed: o.seed.toString(),
        labels: o.labels,
      },
      seconds: {
        sample: result.timings.sampleSeconds,
        decode: result.timings.decodeSeconds,
        perStep: result.timings.sampleSeconds / result.timings.steps,
      },
      metrics: await computeCellMetrics(result.images, o.labels, opts.classifier),
      image: `cells/${cell.id}.png`,
    };
    // PNG first, JSON last: the JSON's presence marks the cell as complete for a resumed run.
    writeFileAtomic(path.join(outDir, cellResult.image), result.png);
    writeFileAtomic(path.join(outDir, 'cells', `${cell.id}.json`), Buffer.from(JSON.stringify(cellResult, null, 1)));
    results.push(cellResult);
    images.push(result.grid);
  }

  // The contact sheet: row and column headers with the values, each cell's time in its caption.
  const rowLabels = plan.rows ? plan.rows.values.map((v) => `${plan.rows!.flag.slice(2)} ${v}`) : [''];
  const columnLabels = plan.columns ? plan.columns.values.map((v) => `${plan.columns!.flag.slice(2)} ${v}`) : [''];
  const cellsGrid: SheetCell[][] = rowLabels.map(() => []);
  // Small images (the embedded model's 32-pixel garments) are enlarged so the sheet is readable.
  const widest = Math.max(...images.map((im) => im?.width ?? 0));
  const zoom = Math.max(1, Math.floor(480 / Math.max(widest, 1)));
  results.forEach((r, i) => {
    const image = images[i];
    cellsGrid[r.row]!.push({ image: image ? upscaleNearest(image, zoom) : null, caption: `${r.seconds.sample.toFixed(1)} s, ${(r.seconds.perStep * 1000).toFixed(0)} ms/step` });
  });
  const sheet = composeSheet({ title: opts.title, rows: rowLabels, columns: columnLabels, cells: cellsGrid });
  const files = {
    sheet: path.join(outDir, 'grid.png'),
    markdown: path.join(outDir, 'report.md'),
    json: path.join(outDir, 'report.json'),
  };
  writeFileAtomic(files.sheet, encodePng(sheet.image));
  const report = renderReport({ title: opts.title, plan, cells: results, model: pipeline.info.description, classifier: opts.classifier });
  writeFileAtomic(files.markdown, Buffer.from(report.markdown));
  writeFileAtomic(files.json, Buffer.from(JSON.stringify(report.json, null, 1)));
  return { cells: results, resumed, files };
}
