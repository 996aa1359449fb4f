/**
 * The embedded model's FD (classifier features vs the Fashion-MNIST test set, sweep/quality.ts) and
 * bulk-generation speed for each guidance scale: `dit generate` through the library, one folder per
 * scale under --out (resumable: an interrupted run continues where it stopped), then the same number
 * of real test images scored the same way, the FD floor of that sample count.
 *
 *   npx tsx bench/generate-fd.ts [--cfg 1,1.5,2,3,4,6,10] [--num-samples 2000] [--steps 25]
 *                                [--sampler ddpm] [--batch-size 64] [--out /tmp/dit-fd-curve]
 *
 * Prints a table, then one JSON line. FD of n samples is biased upward for small n: compare rows of
 * one run (same n) and read the real-data row as the floor.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createPipeline } from '../src/pipeline.js';
import { resolveBulkOptions } from '../src/options.js';
import { generateRange, mergeBulkFolder, openBulkFolder, planBulk, scoreBulkFolder } from '../src/bulk/run.js';
import { openEmbeddedClassifier } from '../src/model-files.js';
import { embeddedFd } from '../src/sweep/quality.js';
import type { RgbImage } from '../src/image/grid.js';
import { arg } from './args.js';

const cfgs = arg('--cfg', '1,1.5,2,3,4,6,10').split(',');
const n = Number(arg('--num-samples', '2000'));
const steps = arg('--steps', '25');
const sampler = arg('--sampler', 'ddpm');
const batchSize = arg('--batch-size', '64');
const outRoot = arg('--out', '/tmp/dit-fd-curve');

interface Row {
  cfg: number;
  n: number;
  fd: number;
  accuracy: number;
  meanPLabel: number;
  seconds: number | null;
  imagesPerSecond: number | null;
}

const pipeline = await createPipeline({});
const classifier = await openEmbeddedClassifier({});
const rows: Row[] = [];
for (const cfg of cfgs) {
  const dir = path.join(outRoot, `cfg-${cfg}`);
  const config = planBulk(pipeline, { cfgScale: cfg, numSamplingSteps: steps, sampler }, resolveBulkOptions({ numSamples: n, batchSize }), undefined);
  openBulkFolder(dir, config);
  const t0 = performance.now();
  const done = await generateRange(pipeline, config, { start: 0, end: n }, dir, {
    batchSize: Number(batchSize),
    onProgress: (p) => process.stderr.write(`cfg ${cfg}: ${p.written}/${p.toWrite} (${p.skipped} already there)\n`),
  });
  const seconds = (performance.now() - t0) / 1000;
  mergeBulkFolder(dir);
  const q = await scoreBulkFolder(dir, classifier);
  // Timing only when this run wrote every image (a resumed folder's time says nothing).
  const timed = done.skipped === 0 && done.written === n;
  rows.push({ cfg: Number(cfg), n, fd: q.fd, accuracy: q.accuracy, meanPLabel: q.meanPLabel, seconds: timed ? seconds : null, imagesPerSecond: timed ? n / seconds : null });
  process.stderr.write(`${JSON.stringify(rows[rows.length - 1])}\n`);
}

// The floor: n real test images (28→32 padded with the background) scored the same way.
const DATA = '/usr/share/datasets/fashion-mnist';
const idx = (f: string) => {
  const b = gunzipSync(fs.readFileSync(path.join(DATA, f)));
  return b.subarray(4 + 4 * b[3]!);
};
const pixels = idx('t10k-images-idx3-ubyte.gz');
const labels = Array.from(idx('t10k-labels-idx1-ubyte.gz')).slice(0, n);
const real: RgbImage[] = labels.map((_, i) => {
  const data = new Uint8Array(32 * 32 * 3);
  for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) data.fill(pixels[i * 784 + y * 28 + x]!, 3 * ((y + 2) * 32 + x + 2), 3 * ((y + 2) * 32 + x + 3));
  return { width: 32, height: 32, data };
});
const floor = await embeddedFd(classifier, real, labels);
await classifier.release();
await pipeline.dispose();

console.log(`embedded model, ${sampler} ${steps} steps, ${n} samples per scale (labels balanced), batch ${batchSize}`);
console.log('| cfg | FD | class acc. | mean p(label) | s | images/s |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.cfg} | ${r.fd.toFixed(2)} | ${r.accuracy.toFixed(3)} | ${r.meanPLabel.toFixed(3)} | ${r.seconds?.toFixed(0) ?? '–'} | ${r.imagesPerSecond?.toFixed(2) ?? '–'} |`);
}
console.log(`| real test images (first ${n}) | ${floor.fd.toFixed(2)} | ${floor.accuracy.toFixed(3)} | ${floor.meanPLabel.toFixed(3)} | | |`);
console.log(JSON.stringify({ bench: 'generate-fd', sampler, steps: Number(steps), n, batchSize: Number(batchSize), rows, realFloor: floor }));
