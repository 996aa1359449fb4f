/**
 * Improved precision and recall (metrics/precision-recall.ts) against scripts/fixtures/precision_recall.py,
 * a NumPy reference written from the paper's definition: the k-NN radii of both sets equal NumPy's
 * (float64, summed in another order: within 1e-12 relative), and the counts of rows inside the other
 * set's manifold are the same integers.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { countInManifold, knnRadii2, precisionRecall, type FeatureRows } from '../../src/metrics/precision-recall.js';
import { readNpyFloat32, readNpyFloat64 } from '../diffusion/npy.js';
import { fixture } from '../helpers/fixtures.js';

interface Case { k: number; n_real: number; n_generated: number; dim: number; precision: number; recall: number; precision_count: number; recall_count: number }
const manifest = JSON.parse(readFileSync(fixture('precision-recall', 'manifest.json'), 'utf8')) as { cases: Record<string, Case> };

function rows(file: string): FeatureRows {
  const { shape, data } = readNpyFloat32(fixture('precision-recall', file));
  return { data, dim: shape[1]! };
}

function maxRelDiff(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, a[i] === b[i] ? 0 : Math.abs(a[i]! - b[i]!) / Math.abs(b[i]!));
  return m;
}

describe('improved precision and recall', () => {
  it('covers the fixture: modes dropped, too wide, k 1/3/5, a set against itself, duplicate rows, 128 dimensions', () => {
    expect(Object.keys(manifest.cases).sort()).toEqual(['dim128', 'duplicates', 'duplicates-k1', 'k1', 'k5', 'modes-dropped', 'self', 'too-wide']);
  });

  for (const [name, c] of Object.entries(manifest.cases)) {
    it(`${name}: radii, precision ${c.precision} and recall ${c.recall} as NumPy computes them`, () => {
      const real = rows(`${name}.real.npy`);
      const generated = rows(`${name}.generated.npy`);
      expect([real.data.length / real.dim, generated.data.length / generated.dim, real.dim]).toEqual([c.n_real, c.n_generated, c.dim]);
      const realRadii = knnRadii2(real, c.k);
      expect(maxRelDiff(realRadii, readNpyFloat64(fixture('precision-recall', `${name}.real-radii2.npy`)).data)).toBeLessThan(1e-12);
      expect(maxRelDiff(knnRadii2(generated, c.k), readNpyFloat64(fixture('precision-recall', `${name}.generated-radii2.npy`)).data)).toBeLessThan(1e-12);
      expect(countInManifold(generated, real, realRadii)).toBe(c.precision_count);
      const pr = precisionRecall(real, generated, c.k);
      expect(pr).toEqual({ precision: c.precision_count / c.n_generated, recall: c.recall_count / c.n_real, k: c.k });
      // Precomputed real radii give the same result; a part of the rows' radii is that part.
      expect(precisionRecall(real, generated, c.k, realRadii)).toEqual(pr);
      expect(knnRadii2(real, c.k, { start: 7, end: 19 })).toEqual(realRadii.subarray(7, 19));
    });
  }

  it('a point on the surface of a ball is inside it; the point itself is not its own neighbour', () => {
    // Four points on a line at 0, 1, 3, 6: radii (k = 1) 1, 1, 2, 3; k = 3: 6, 5, 3, 6.
    const line: FeatureRows = { data: new Float64Array([0, 1, 3, 6]), dim: 1 };
    expect(Array.from(knnRadii2(line, 1))).toEqual([1, 1, 4, 9]);
    expect(Array.from(knnRadii2(line, 3))).toEqual([36, 25, 9, 36]);
    const r2 = knnRadii2(line, 1);
    // 5 is 1 from 6 (radius 3): inside; -1 is exactly 1 from 0 (radius 1): inside; 10 is 4 from 6: outside.
    expect(countInManifold({ data: new Float64Array([5, -1, 10, -1.5]), dim: 1 }, line, r2)).toBe(2);
  });

  it('refuses sets too small for k and mismatched shapes (programming errors)', () => {
    const three: FeatureRows = { data: new Float64Array(6), dim: 2 };
    expect(() => knnRadii2(three, 3)).toThrow('needs more than 3 rows, got 3');
    expect(() => countInManifold({ data: new Float64Array(3), dim: 3 }, three, new Float64Array(3))).toThrow('3-d queries against 2-d points');
    expect(() => countInManifold(three, three, new Float64Array(2))).toThrow('2 radii for 3 points');
    expect(() => knnRadii2({ data: new Float64Array(7), dim: 2 }, 1)).toThrow('7 values are not whole rows of 2');
  });
});
