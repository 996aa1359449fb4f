/**
 * The embedded model's quality (classifier features vs the Fashion-MNIST test set, sweep/quality.ts:
 * FD, precision/recall, class accuracy overall and per class, mean p(label)) and bulk-generation
 * speed for each guidance scale: `dit generate` through the library, one folder per scale under
 * --out (resumable: an interrupted run continues where it stopped; a folder written whole by one run keeps that
 * run's time in DIR.seconds.json, so rescoring it later still reports images/s), then the same number of real
 * training and test images scored the same way, the floor of that sample count.
 * bench/score-fd.ts rescores folders that exist.
 *
 *   npx tsx bench/generate-fd.ts [--cfg 1,1.5,2,3,4,6,10] [--num-samples 2000] [--steps 25]
 *                                [--sampler ddpm] [--batch-size 64] [--out /tmp/dit-fd-curve]
 *                                [--guidance-interval LO,HI]   (guide only for timesteps in [LO, HI]; default: the
 *                                                 model's: the embedded model's interval (EMBEDDED_DEFAULTS), every
 *                                                 step for a --ckpt copy of it; 0,999 = every step)
 *                                [--seed 0]      (image i's noise is a function of (seed, i): another seed, other images)
 *                                [--ckpt DIR]    (another copy of the model: a folder with config.json and
 *                                                 model.safetensors, e.g. the previous weights; default: the embedded model)
 *                                [--json FILE]   (the JSON line also written to FILE)
 *
 * Prints the tables (bench/fd-report.ts), then one JSON line. FD and recall of n samples are biased
 * upward for small n (recall: the k-NN balls of fewer samples are larger): compare rows of one run
 * (same n) and read the real rows as the floor.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createPipeline } from '../src/pipeline.js';
import { resolveBulkOptions } from '../src/options.js';
import { generateRange, mergeBulkFolder, openBulkFolder, planBulk, scoreBulkFolder } from '../src/bulk/run.js';
import { openEmbeddedClassifier } from '../src/model-files.js';
import { writeFileAtomic } from '../src/atomic-write.js';
import { guidesEveryStep } from '../src/diffusion/guidance.js';
import { arg } from './args.js';
import { printQualityTables, realFloor, type QualityRow } from './fd-report.js';

const cfgs = arg('--cfg', '1,1.5,2,3,4,6,10').split(',');
const n = Number(arg('--num-samples', '2000'));
const steps = arg('--steps', '25');
const sampler = arg('--sampler', 'ddpm');
const batchSize = arg('--batch-size', '64');
const outRoot = arg('--out', '/tmp/dit-fd-curve');
const interval = arg('--guidance-interval', '');
const seed = arg('--seed', '0');
const ckpt = arg('--ckpt', '');
const jsonOut = arg('--json', '');

const pipeline = await createPipeline(ckpt ? { ckpt } : {});
const classifier = await openEmbeddedClassifier({});
const rows: QualityRow[] = [];
// The interval the images are made with: the flag's, else the model's default (the embedded model
// guides on an interval unless told otherwise; a --ckpt copy of it guides every step). Folder, header
// and JSON name this one, "lo,hi" or null for every step, so that a row says how it was made.
let guided: string | null = null;
for (const cfg of cfgs) {
  const generate = { cfgScale: cfg, numSamplingSteps: steps, sampler, seed, ...(interval ? { guidanceInterval: interval } : {}) };
  const config = planBulk(pipeline, generate, resolveBulkOptions({ numSamples: n, batchSize }));
  const resolved = config.sampling.guidanceInterval;
  guided = guidesEveryStep(resolved) ? null : resolved!.join(',');
  const dir = path.join(outRoot, `cfg-${cfg}${guided ? `-interval-${guided.replace(',', '-')}` : ''}${seed === '0' ? '' : `-seed-${seed}`}`);
  openBulkFolder(dir, config);
  const t0 = performance.now();
  const done = await generateRange(pipeline, config, { start: 0, end: n }, dir, {
    batchSize: Number(batchSize),
    onProgress: (p) => process.stderr.write(`cfg ${cfg}: ${p.written}/${p.toWrite} (${p.skipped} already there)\n`),
  });
  const seconds = (performance.now() - t0) / 1000;
  mergeBulkFolder(dir);
  const q = await scoreBulkFolder(dir, classifier);
  // Timing only from a run that wrote every image (a resumed folder's time says nothing). It is kept
  // beside the folder, so that rescoring a complete folder later reports the time of the run that wrote it.
  const timingFile = `${dir}.seconds.json`;
  const whole = done.skipped === 0 && done.written === n;
  if (whole) writeFileAtomic(timingFile, Buffer.from(`${JSON.stringify({ seconds, n })}\n`));
  else if (done.written > 0) fs.rmSync(timingFile, { force: true });
  const kept = !whole && fs.existsSync(timingFile) ? (JSON.parse(fs.readFileSync(timingFile, 'utf8')) as { seconds: number; n: number }) : null;
  const timedSeconds = whole ? seconds : kept?.n === n ? kept.seconds : null;
  rows.push({ name: `cfg ${cfg}`, q, seconds: timedSeconds, imagesPerSecond: timedSeconds === null ? null : n / timedSeconds });
  process.stderr.write(`${JSON.stringify({ cfg: Number(cfg), fd: q.fd, precision: q.precision, recall: q.recall, accuracy: q.accuracy })}\n`);
}
const floor = await realFloor(classifier, n);
await classifier.release();
await pipeline.dispose();

console.log(`${ckpt ? `the model in ${ckpt}` : 'embedded model'}, ${sampler} ${steps} steps, ${guided ? `guidance only for timesteps in [${guided}]` : 'guidance at every step'}, seed ${seed}, ${n} samples per scale (labels balanced), batch ${batchSize}`);
printQualityTables([...rows, ...floor]);
const result = JSON.stringify({ bench: 'generate-fd', ckpt: ckpt || null, sampler, steps: Number(steps), guidanceInterval: guided, seed, n, batchSize: Number(batchSize), rows, realFloor: floor });
console.log(result);
if (jsonOut) fs.writeFileSync(jsonOut, `${result}\n`);
