/**
 * Improved precision and recall of a generative model (Kynkäänniemi, Karras, Laine, Lehtinen and
 * Aila, "Improved Precision and Recall Metric for Assessing Generative Models", NeurIPS 2019), on
 * feature vectors (Inception pool3 for images in general; the embedded classifier's 128 features
 * for the embedded model, sweep/quality.ts).
 *
 * Each set of feature vectors Φ stands for a manifold: the union of balls around its points, each
 * with the radius to that point's k-th nearest neighbour in Φ (the point itself not counted; k = 3
 * in the paper):
 *
 *     manifold(Φ) = ∪_{φ ∈ Φ} B(φ, NN_k(φ, Φ))
 *     precision   = share of generated vectors inside manifold(real)
 *     recall      = share of real vectors inside manifold(generated)
 *
 * A point on a ball's surface is inside (‖x − φ‖ ≤ NN_k(φ), as the authors' code compares). Radii
 * and distances are kept squared, in float64, each a sum of squares over the dimensions, so the
 * decisions are those of the definition up to the last bit of a sum (NumPy's pairwise summation
 * rounds differently again; no decision of the fixtures sits that close to a surface).
 *
 * Cost: every pair of a generated and a real vector, twice (once per direction), plus the k-NN of
 * each set within itself — D multiply-adds a pair at most. Three shortcuts that change no decision
 * make it much cheaper in practice: a distance is summed only until it passes the radius it is
 * compared with (partial sums of squares never decrease), precisionRecall sums the dimensions in
 * order of decreasing variance (so the sum passes the radius sooner), and a point stops being
 * tested at its first ball, the balls tried largest first. See bench/precision-recall.ts.
 */
import { assert } from '../errors.js';

/** Feature vectors, `data.length / dim` rows of `dim`, row-major. */
export interface FeatureRows {
  readonly data: Float32Array | Float64Array;
  readonly dim: number;
}

/** The paper's neighbourhood size. */
export const DEFAULT_K = 3;

const rowCount = (f: FeatureRows): number => f.data.length / f.dim;

function checkRows(f: FeatureRows, what: string): number {
  assert(Number.isInteger(f.dim) && f.dim >= 1 && f.data.length % f.dim === 0, () => `${what}: ${f.data.length} values are not whole rows of ${f.dim}`);
  return rowCount(f);
}

/**
 * ‖a_i − b_j‖², or a value above `bound` as soon as the running sum passes it (the exact distance is
 * then above `bound` too). Eight dimensions are added between checks.
 */
function squaredDistanceUpTo(a: Float32Array | Float64Array, ai: number, b: Float32Array | Float64Array, bj: number, d: number, bound: number): number {
  let s = 0;
  let k = 0;
  while (k < d) {
    const stop = Math.min(d, k + 8);
    for (; k < stop; k++) {
      const t = a[ai + k]! - b[bj + k]!;
      s += t * t;
    }
    if (s > bound) return s;
  }
  return s;
}

/**
 * Squared distance from each row of `points` (rows `start` to `end`, all by default) to its k-th
 * nearest neighbour among the other rows: the squared radii of the manifold's balls. A row with
 * duplicates has those at distance 0.
 */
export function knnRadii2(points: FeatureRows, k: number = DEFAULT_K, range?: { readonly start: number; readonly end: number }): Float64Array {
  const n = checkRows(points, 'knnRadii2');
  assert(Number.isInteger(k) && k >= 1 && n > k, () => `knnRadii2: the ${k}-th nearest neighbour needs more than ${k} rows, got ${n}`);
  const { start, end } = range ?? { start: 0, end: n };
  assert(start >= 0 && end <= n && start <= end, () => `knnRadii2: rows ${start}..${end} outside 0..${n}`);
  const { data, dim } = points;
  const out = new Float64Array(end - start);
  const best = new Float64Array(k); // the k smallest so far, ascending
  for (let i = start; i < end; i++) {
    best.fill(Infinity);
    const ai = i * dim;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const s = squaredDistanceUpTo(data, ai, data, j * dim, dim, best[k - 1]!);
      if (s >= best[k - 1]!) continue;
      let p = k - 1;
      while (p > 0 && best[p - 1]! > s) {
        best[p] = best[p - 1]!;
        p--;
      }
      best[p] = s;
    }
    out[i - start] = best[k - 1]!;
  }
  return out;
}

/**
 * How many rows of `queries` lie inside the manifold of `points` with squared radii `radii2`: in at
 * least one ball, ‖q − p_i‖² ≤ radii2[i].
 */
export function countInManifold(queries: FeatureRows, points: FeatureRows, radii2: Float64Array): number {
  const nq = checkRows(queries, 'countInManifold');
  const np = checkRows(points, 'countInManifold');
  assert(queries.dim === points.dim, () => `countInManifold: ${queries.dim}-d queries against ${points.dim}-d points`);
  assert(radii2.length === np, () => `countInManifold: ${radii2.length} radii for ${np} points`);
  const d = points.dim;
  // Largest balls first: a query inside the manifold is usually found after a few.
  const order = Array.from({ length: np }, (_, i) => i).sort((a, b) => radii2[b]! - radii2[a]!);
  const offsets = Int32Array.from(order, (i) => i * d);
  const sorted = Float64Array.from(order, (i) => radii2[i]!);
  let inside = 0;
  for (let q = 0; q < nq; q++) {
    const qi = q * d;
    for (let p = 0; p < np; p++) {
      const r2 = sorted[p]!;
      if (squaredDistanceUpTo(queries.data, qi, points.data, offsets[p]!, d, r2) <= r2) {
        inside++;
        break;
      }
    }
  }
  return inside;
}

export interface PrecisionRecall {
  /** Share of generated rows inside the real manifold. */
  readonly precision: number;
  /** Share of real rows inside the generated manifold. */
  readonly recall: number;
  readonly k: number;
}

/**
 * Improved precision and recall of `generated` against `real`. `realRadii2` (knnRadii2(real, k))
 * may be given when the real set is fixed and its radii are precomputed.
 */
export function precisionRecall(real: FeatureRows, generated: FeatureRows, k: number = DEFAULT_K, realRadii2?: Float64Array): PrecisionRecall {
  const nr = checkRows(real, 'precisionRecall');
  const ng = checkRows(generated, 'precisionRecall');
  assert(real.dim === generated.dim, () => `precisionRecall: ${real.dim}-d real rows against ${generated.dim}-d generated rows`);
  assert(realRadii2 === undefined || realRadii2.length === nr, () => `precisionRecall: ${realRadii2!.length} radii for ${nr} real rows`);
  const order = byDecreasingVariance(real);
  const r = permuteColumns(real, order);
  const g = permuteColumns(generated, order);
  const precision = countInManifold(g, r, realRadii2 ?? knnRadii2(r, k)) / ng;
  const recall = countInManifold(r, g, knnRadii2(g, k)) / nr;
  return { precision, recall, k };
}

/** The dimensions of `rows`, largest variance first. */
function byDecreasingVariance(rows: FeatureRows): Int32Array {
  const { data, dim } = rows;
  const n = rowCount(rows);
  const mean = new Float64Array(dim);
  const m2 = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] += data[i * dim + j]!;
  for (let j = 0; j < dim; j++) mean[j] /= n;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) {
      const t = data[i * dim + j]! - mean[j]!;
      m2[j] += t * t;
    }
  }
  return Int32Array.from({ length: dim }, (_, j) => j).sort((a, b) => m2[b]! - m2[a]! || a - b);
}

/** A float64 copy of `rows` with column j taken from column order[j]. */
function permuteColumns(rows: FeatureRows, order: Int32Array): FeatureRows {
  const { data, dim } = rows;
  const out = new Float64Array(data.length);
  for (let off = 0; off < data.length; off += dim) for (let j = 0; j < dim; j++) out[off + j] = data[off + order[j]!]!;
  return { data: out, dim };
}
