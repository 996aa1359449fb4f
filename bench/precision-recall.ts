/**
 * What improved precision/recall (metrics/precision-recall.ts) costs for the embedded model:
 * N generated feature rows against the 10,000 shipped test-set rows (D = 128), in JS, float64.
 * The generated rows are the classifier's features of a dit generate folder (--dir) or of the
 * first N training images. Baseline in the same run: every distance summed in full, both
 * directions decided from one pass over the N × 10,000 pairs (and the N × N pairs for the
 * generated radii), which must give the same precision and recall.
 *
 *   npx tsx bench/precision-recall.ts [--num-samples 2000] [--dir FOLDER] [--repeat 2]
 *
 * Prints a table (best of --repeat; wall and CPU seconds, the CPU time being what a shared machine's
 * load does not inflate), then one JSON line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openEmbeddedClassifier } from '../src/model-files.js';
import { readBulkConfig, planLabels } from '../src/bulk/run.js';
import { imageFileName } from '../src/bulk/plan.js';
import { readPng } from '../src/image/png.js';
import { embeddedRealManifold, EmbeddedScorer } from '../src/sweep/quality.js';
import { knnRadii2, precisionRecall, type FeatureRows } from '../src/metrics/precision-recall.js';
import { arg } from './args.js';
import { realImages } from './fd-report.js';

const dir = process.argv.includes('--dir') ? arg('--dir', '') : undefined;
const repeat = Number(arg('--repeat', '2'));

const classifier = await openEmbeddedClassifier({ threads: 1 });
const scorer = new EmbeddedScorer(classifier);
if (dir !== undefined) {
  const config = readBulkConfig(dir);
  const labels = planLabels(config);
  for (let s = 0; s < config.numSamples; s += 256) {
    const end = Math.min(config.numSamples, s + 256);
    const images = [];
    for (let i = s; i < end; i++) images.push(readPng(path.join(dir, imageFileName(i, config.numSamples))));
    await scorer.add(images, labels.slice(s, end));
  }
} else {
  const { images, labels } = realImages('train', Number(arg('--num-samples', '2000')));
  for (let s = 0; s < images.length; s += 256) await scorer.add(images.slice(s, s + 256), labels.slice(s, s + 256));
}
await classifier.release();
const generated = scorer.features();
const real = embeddedRealManifold();
const n = generated.data.length / generated.dim;

/** Every pair in full: the generated radii from the N × N distances, then one pass over N × 10,000 for both directions. */
function naive(realRows: FeatureRows, radiiReal: Float64Array, gen: FeatureRows, k: number): { precision: number; recall: number } {
  const d = gen.dim;
  const ng = gen.data.length / d;
  const nr = realRows.data.length / d;
  const dist = (a: FeatureRows['data'], i: number, b: FeatureRows['data'], j: number) => {
    let s = 0;
    for (let t = 0; t < d; t++) {
      const x = a[i * d + t]! - b[j * d + t]!;
      s += x * x;
    }
    return s;
  };
  const radiiGen = new Float64Array(ng);
  const row = new Float64Array(ng);
  for (let i = 0; i < ng; i++) {
    for (let j = 0; j < ng; j++) row[j] = dist(gen.data, i, gen.data, j);
    radiiGen[i] = Float64Array.from(row).sort()[k]!;
  }
  const genIn = new Uint8Array(ng);
  const realIn = new Uint8Array(nr);
  for (let i = 0; i < ng; i++) {
    for (let j = 0; j < nr; j++) {
      const s = dist(gen.data, i, realRows.data, j);
      if (s <= radiiReal[j]!) genIn[i] = 1;
      if (s <= radiiGen[i]!) realIn[j] = 1;
    }
  }
  return { precision: genIn.reduce((a, b) => a + b, 0) / ng, recall: realIn.reduce((a, b) => a + b, 0) / nr };
}

interface Timing {
  wall: number;
  cpu: number;
}
function time<T>(f: () => T): { value: T; t: Timing } {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const value = f();
  const c = process.cpuUsage(c0);
  return { value, t: { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 } };
}
const best: Record<'naive' | 'pruned' | 'genRadii', Timing> = {
  naive: { wall: Infinity, cpu: Infinity },
  pruned: { wall: Infinity, cpu: Infinity },
  genRadii: { wall: Infinity, cpu: Infinity },
};
const keep = (key: keyof typeof best, t: Timing) => (best[key] = t.cpu < best[key].cpu ? t : best[key]);
let agree = true;
let result = { precision: NaN, recall: NaN };
for (let r = 0; r < repeat; r++) {
  const b = time(() => naive(real.features, real.radii2, generated, real.k));
  const p = time(() => precisionRecall(real.features, generated, real.k, real.radii2));
  const g = time(() => knnRadii2(generated, real.k));
  keep('naive', b.t);
  keep('pruned', p.t);
  keep('genRadii', g.t);
  agree &&= b.value.precision === p.value.precision && b.value.recall === p.value.recall;
  result = p.value;
}
if (!agree) throw new Error('the pruned and the full computation disagree');
const row = (what: string, t: Timing, ratio: string) => console.log(`| ${what} | ${t.wall.toFixed(2)} | ${t.cpu.toFixed(2)} | ${ratio} |`);

console.log(`precision/recall, ${n} generated × ${real.features.data.length / real.features.dim} real rows, D = ${generated.dim}, k = ${real.k}${dir ? ` (${dir})` : ' (training images)'}; best of ${repeat}`);
console.log('| computation | wall s | CPU s | baseline CPU / this |');
console.log('| --- | --- | --- | --- |');
row('every distance in full (baseline)', best.naive, '1');
row('precisionRecall (pruned)', best.pruned, (best.naive.cpu / best.pruned.cpu).toFixed(1));
row("the generated set's radii alone (knnRadii2)", best.genRadii, '');
console.log(`precision ${result.precision}, recall ${result.recall} (both computations agree)`);
console.log(JSON.stringify({ bench: 'precision-recall', n, real: real.features.data.length / real.features.dim, dim: generated.dim, k: real.k, source: dir ?? 'train', seconds: best, ...result }));
