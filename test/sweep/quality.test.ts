/**
 * The embedded model's FD (sweep/quality.ts) against training/fd_reference.py, which computes the
 * same numbers with PyTorch's classifier, NumPy's mean/cov and scipy's sqrtm (pytorch-fid's
 * formula) on the Fashion-MNIST test set (Debian's dataset-fashion-mnist, installed by
 * scripts/install.sh), per-class accuracy and mean p(label), and precision/recall with the NumPy
 * reference of scripts/fixtures/precision_recall.py on the shipped test-set features.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedClassifier } from '../../src/model-files.js';
import type { ClassifierSession } from '../../src/runtime/index.js';
import type { RgbImage } from '../../src/image/grid.js';
import { EMBEDDED_REAL_FEATURES, embeddedFd, embeddedReference, embeddedRealManifold, EmbeddedScorer } from '../../src/sweep/quality.js';
import { frechetDistance } from '../../src/metrics/frechet.js';
import { knnRadii2 } from '../../src/metrics/precision-recall.js';
import { computeCellMetrics } from '../../src/sweep/run.js';
import { fixture } from '../helpers/fixtures.js';

const DATA = '/usr/share/datasets/fashion-mnist';
const ref = JSON.parse(fs.readFileSync(fixture('embedded-fd', 'manifest.json'), 'utf8')) as Record<string, number> & { b_per_class: [number, number, number][]; b_confusion: number[][] };

function readIdx(file: string): Uint8Array {
  const bytes = gunzipSync(fs.readFileSync(path.join(DATA, file)));
  return bytes.subarray(4 + 4 * bytes[3]!);
}

/** Image i of an idx file, 28→32 padded with the background (0) as in training, as a grey RGB image; then + `add` everywhere, clipped. */
function testImage(pixels: Uint8Array, i: number, add = 0): RgbImage {
  const data = new Uint8Array(32 * 32 * 3).fill(Math.min(255, add));
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = Math.min(255, pixels[i * 784 + y * 28 + x]! + add);
      data.fill(v, 3 * ((y + 2) * 32 + x + 2), 3 * ((y + 2) * 32 + x + 2) + 3);
    }
  }
  return { width: 32, height: 32, data };
}

let classifier: ClassifierSession;
let pixels: Uint8Array;
let labels: number[];

beforeAll(async () => {
  classifier = await openEmbeddedClassifier({ threads: 1 });
  pixels = readIdx('t10k-images-idx3-ubyte.gz');
  labels = Array.from(readIdx('t10k-labels-idx1-ubyte.gz'));
});
afterAll(() => classifier.release());

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('embedded FD (classifier features vs the Fashion-MNIST test set)', () => {
  it('500 test images, and the same +40 brighter: FD, accuracy and mean p(label) as PyTorch + scipy compute them', async () => {
    const n = ref.count!;
    const a = new EmbeddedScorer(classifier);
    const b = new EmbeddedScorer(classifier);
    await a.add(Array.from({ length: n }, (_, i) => testImage(pixels, i)), labels.slice(0, n));
    await b.add(Array.from({ length: n }, (_, i) => testImage(pixels, i, ref.brighten!)), labels.slice(0, n));
    const qa = a.finish();
    const qb = b.finish();
    expect(rel(qa.fd, ref.a_vs_reference!)).toBeLessThan(1e-4);
    expect(rel(qb.fd, ref.b_vs_reference!)).toBeLessThan(1e-4);
    expect(rel(frechetDistance(b.statistics(), a.statistics()), ref.b_vs_a!)).toBeLessThan(1e-4);
    expect(qa.accuracy).toBe(ref.a_accuracy);
    expect(qb.accuracy).toBe(ref.b_accuracy);
    expect(qa.meanPLabel).toBeCloseTo(ref.a_mean_p_label!, 5);
    expect(qb.meanPLabel).toBeCloseTo(ref.b_mean_p_label!, 5);
    // The shipped statistics are scipy's reference against itself: 0.
    const r = embeddedReference();
    expect(r.count).toBe(10_000);
    expect(Math.abs(frechetDistance(r, r))).toBeLessThan(1e-9);
  }, 60_000);

  it('per class: the accuracy, mean p(label) and the class each image was given, of the +40 brighter images, class by class, as PyTorch computes them', async () => {
    const n = ref.count!;
    const q = await embeddedFd(classifier, Array.from({ length: n }, (_, i) => testImage(pixels, i, ref.brighten!)), labels.slice(0, n));
    expect(q.perClass.map((c) => c.label)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(q.perClass.map((c) => c.count)).toEqual(ref.b_per_class.map((c) => c[0]));
    expect(q.perClass.map((c) => c.accuracy)).toEqual(ref.b_per_class.map((c) => c[1]));
    q.perClass.forEach((c, i) => expect(c.meanPLabel).toBeCloseTo(ref.b_per_class[i]![2], 5));
    // The class each image was given, by label (PyTorch's argmax); each row sums to its count, the diagonal is the hits.
    expect(q.perClass.map((c) => c.predicted)).toEqual(ref.b_confusion);
    q.perClass.forEach((c) => expect([c.predicted.reduce((a, b) => a + b, 0), c.predicted[c.label]]).toEqual([c.count, c.accuracy * c.count]));
    expect(ref.b_confusion.flat().filter((v, i) => v > 0 && i % 11 !== 0).length).toBeGreaterThan(5); // misses in several cells
    // The classes differ (the test would not see a class mix-up otherwise); the overall numbers are the count-weighted ones.
    expect(new Set(q.perClass.map((c) => c.accuracy)).size).toBeGreaterThan(5);
    expect(q.accuracy).toBe(ref.b_accuracy);
    expect(q.precision).toBeUndefined();
  }, 60_000);

  it('precision and recall against the shipped test-set features: the NumPy reference\'s, for test images (a), brighter ones (b) and training images (c)', async () => {
    const n = ref.count!;
    const real = embeddedRealManifold();
    expect([real.features.data.length / real.features.dim, real.features.dim, real.k]).toEqual([10_000, 128, 3]);
    // The shipped radii are NumPy's; ours from the shipped rows agree (rows 0..39 against all 10,000).
    const radii = knnRadii2(real.features, real.k, { start: 0, end: 40 });
    radii.forEach((r, i) => expect(Math.abs(r - real.radii2[i]!) / real.radii2[i]!).toBeLessThan(1e-12));
    const train = readIdx('train-images-idx3-ubyte.gz');
    const trainLabels = Array.from(readIdx('train-labels-idx1-ubyte.gz')).slice(0, n);
    const sets = {
      a: await embeddedFd(classifier, Array.from({ length: n }, (_, i) => testImage(pixels, i)), labels.slice(0, n), undefined, real),
      b: await embeddedFd(classifier, Array.from({ length: n }, (_, i) => testImage(pixels, i, ref.brighten!)), labels.slice(0, n), undefined, real),
      c: await embeddedFd(classifier, Array.from({ length: n }, (_, i) => testImage(train, i)), trainLabels, undefined, real),
    };
    // The generated rows here are ONNX Runtime's features, the reference's PyTorch's (within ~1e-6):
    // a row within rounding of a ball's surface may fall the other way, so one row of slack.
    for (const [name, q] of Object.entries(sets)) {
      expect(Math.abs(q.precision! - ref[`${name}_precision`]!), `${name} precision`).toBeLessThanOrEqual(1 / n + 1e-12);
      expect(Math.abs(q.recall! - ref[`${name}_recall`]!), `${name} recall`).toBeLessThanOrEqual(1 / 10_000 + 1e-12);
    }
    expect(sets.a.precision).toBe(1); // every test image is the centre of its own ball
    expect(rel(sets.c.fd, ref.c_vs_reference!)).toBeLessThan(1e-4);
    expect(sets.c.accuracy).toBe(ref.c_accuracy);
  }, 120_000);

  it('a reference without the radii of every feature row is refused in one line naming both files', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-fd-ref-'));
    try {
      const file = path.join(dir, 'fd-reference.json');
      fs.writeFileSync(file, JSON.stringify({ mu: [0], sigma: [[1]], knn_k: 3, knn_radii2: [1, 2, 3] }));
      expect(() => embeddedRealManifold(EMBEDDED_REAL_FEATURES, file)).toThrow(
        `the FD reference ${file} does not hold knn_k and one non-negative knn_radii2 per row of ${EMBEDDED_REAL_FEATURES} (10000 rows); rerun training/fd_reference.py`,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("dit sweep's cell metrics carry the FD of the cell's images (40 real test images: biased further up than 500)", async () => {
    const images = Array.from({ length: 40 }, (_, i) => testImage(pixels, i));
    const batch = { data: new Float32Array(40 * 1024), shape: [40, 1, 32, 32] as [number, number, number, number] };
    images.forEach((im, b) => {
      for (let p = 0; p < 1024; p++) batch.data[b * 1024 + p] = im.data[3 * p]! / 127.5 - 1;
    });
    const m = await computeCellMetrics(batch, labels.slice(0, 40), classifier);
    const direct = await embeddedFd(classifier, images, labels.slice(0, 40));
    expect(m.fd).toBeCloseTo(direct.fd, 6);
    expect(m.fd!).toBeGreaterThan(ref.a_vs_reference!); // 40 images are biased further up than 500
  }, 30_000);
});
