/**
 * Fréchet distance between two Gaussians fitted to feature sets (FID when the features are
 * Inception pool3 activations):
 *
 *     d² = ‖μ1 − μ2‖² + Tr(Σ1) + Tr(Σ2) − 2 Tr((Σ1 Σ2)^{1/2})
 *
 * Everything is float64. The statistics are streamed (batches merged with Chan et al.'s pairwise
 * update, so a large mean does not cancel the covariance away), and equal NumPy's `np.mean` and
 * `np.cov(rowvar=False)` (ddof 1), which pytorch-fid and the ADM evaluator use.
 *
 * Tr((Σ1 Σ2)^{1/2}) is the sum of the square roots of the eigenvalues of Σ1 Σ2. They are real and
 * non-negative (Σ1, Σ2 symmetric PSD), and equal to the eigenvalues of the symmetric PSD matrix
 * Lᵀ Σ2 L for any factor Σ1 = L Lᵀ. We take L from a pivoted Cholesky factorisation (which stops at
 * the numerical rank, so a singular Σ1 — fewer samples than dimensions — needs no ε on the
 * diagonal), then the eigenvalues of Lᵀ Σ2 L by Householder tridiagonalisation and implicit QL.
 * Σ1's rank r bounds the work: a few hundred samples of 2048-d features cost far less than D³.
 * This is what scipy.linalg.sqrtm(Σ1 Σ2) in pytorch-fid computes the trace of, without the complex
 * Schur form: the result matches pytorch-fid to rounding, and is finite for every finite PSD input,
 * so pytorch-fid's retry with ε = 1e-6 added to both diagonals (taken only when sqrtm returns
 * non-finite values) has no counterpart here. Cost: about 1.5·D³ multiply-adds (D = 2048: see
 * bench/frechet.ts).
 */
import { assert, UsageError } from '../errors.js';

/** Mean and covariance of a feature set: `sigma` is D×D, row-major, symmetric. */
export interface GaussianStats {
  readonly mu: Float64Array;
  readonly sigma: Float64Array;
}

/** Rows accumulated per block in `FeatureStatistics.add` (bounds the float64 scratch to BLOCK × D). */
const BLOCK = 128;

/**
 * Streaming mean and covariance of D-dimensional feature rows. Memory: D² float64 (32 MiB at 2048)
 * plus a BLOCK × D scratch; time: D²/2 multiply-adds per row.
 */
export class FeatureStatistics {
  readonly dim: number;
  private n = 0;
  private readonly mean: Float64Array;
  /** Upper triangle of Σ (x − mean)(x − mean)ᵀ (the lower triangle is not kept up to date). */
  private readonly comoment: Float64Array;
  private readonly scratch: Float64Array;
  private readonly blockMean: Float64Array;

  constructor(dim: number) {
    assert(Number.isInteger(dim) && dim >= 1, `FeatureStatistics: bad dimension ${dim}`);
    this.dim = dim;
    this.mean = new Float64Array(dim);
    this.comoment = new Float64Array(dim * dim);
    this.scratch = new Float64Array(BLOCK * dim);
    this.blockMean = new Float64Array(dim);
  }

  /** Rows seen so far. */
  get count(): number {
    return this.n;
  }

  /** Adds `rows.length / dim` feature rows (row-major). */
  add(rows: Float32Array | Float64Array): void {
    const d = this.dim;
    assert(rows.length % d === 0, `FeatureStatistics.add: ${rows.length} values are not whole rows of ${d}`);
    const total = rows.length / d;
    for (let start = 0; start < total; start += BLOCK) this.addBlock(rows, start, Math.min(BLOCK, total - start));
  }

  private addBlock(rows: Float32Array | Float64Array, start: number, b: number): void {
    const d = this.dim;
    const x = this.scratch;
    const m = this.blockMean.fill(0);
    for (let s = 0; s < b; s++) {
      const off = (start + s) * d;
      for (let j = 0; j < d; j++) {
        const v = rows[off + j]!;
        if (!Number.isFinite(v)) throw new UsageError(`feature row ${this.n + s} has a non-finite value (${v}) at dimension ${j}; the network's output is broken`);
        x[s * d + j] = v;
        m[j] += v;
      }
    }
    for (let j = 0; j < d; j++) m[j] /= b;
    for (let s = 0; s < b; s++) for (let j = 0; j < d; j++) x[s * d + j] -= m[j]!;
    // comoment (upper) += Xcᵀ Xc, four rows at a time so each comoment row is loaded once per four.
    const c = this.comoment;
    for (let i = 0; i < d; i++) {
      const ci = i * d;
      let s = 0;
      for (; s + 4 <= b; s += 4) {
        const r0 = s * d, r1 = r0 + d, r2 = r1 + d, r3 = r2 + d;
        const v0 = x[r0 + i]!, v1 = x[r1 + i]!, v2 = x[r2 + i]!, v3 = x[r3 + i]!;
        for (let j = i; j < d; j++) c[ci + j] += v0 * x[r0 + j]! + v1 * x[r1 + j]! + v2 * x[r2 + j]! + v3 * x[r3 + j]!;
      }
      for (; s < b; s++) {
        const r = s * d;
        const v = x[r + i]!;
        for (let j = i; j < d; j++) c[ci + j] += v * x[r + j]!;
      }
    }
    // Merge with what was there (Chan, Golub & LeVeque): M = Ma + Mb + δδᵀ · na·nb/(na+nb).
    const na = this.n, n = na + b;
    const w = (na * b) / n;
    const delta = this.blockMean; // reuse: δ = blockMean − mean
    for (let j = 0; j < d; j++) delta[j] = m[j]! - this.mean[j]!;
    if (na > 0) {
      for (let i = 0; i < d; i++) {
        const di = delta[i]! * w, ci = i * d;
        for (let j = i; j < d; j++) c[ci + j] += di * delta[j]!;
      }
    }
    for (let j = 0; j < d; j++) this.mean[j] += (delta[j]! * b) / n;
    this.n = n;
  }

  /** μ and Σ with NumPy's `np.cov` normalisation (N − 1). Needs at least two rows. */
  finish(): GaussianStats {
    const d = this.dim;
    if (this.n < 2) throw new UsageError(`a covariance needs at least 2 feature rows, got ${this.n}`);
    const sigma = new Float64Array(d * d);
    const inv = 1 / (this.n - 1);
    for (let i = 0; i < d; i++) {
      for (let j = i; j < d; j++) {
        const v = this.comoment[i * d + j]! * inv;
        sigma[i * d + j] = v;
        sigma[j * d + i] = v;
      }
    }
    return { mu: Float64Array.from(this.mean), sigma };
  }
}

/** ‖μ1 − μ2‖² + Tr(Σ1) + Tr(Σ2) − 2 Tr((Σ1 Σ2)^{1/2}). */
export function frechetDistance(a: GaussianStats, b: GaussianStats): number {
  const d = a.mu.length;
  assert(b.mu.length === d && a.sigma.length === d * d && b.sigma.length === d * d, `frechetDistance: shapes differ (${a.mu.length} vs ${b.mu.length})`);
  let dist = 0;
  for (let i = 0; i < d; i++) {
    const t = a.mu[i]! - b.mu[i]!;
    dist += t * t;
  }
  for (let i = 0; i < d; i++) dist += a.sigma[i * d + i]! + b.sigma[i * d + i]!;
  return dist - 2 * traceSqrtProduct(a.sigma, b.sigma, d);
}

/** Tr((A B)^{1/2}) for symmetric PSD n×n A, B (row-major; only the symmetric part is used). */
export function traceSqrtProduct(a: Float64Array, b: Float64Array, n: number): number {
  const { factorT, perm, rank } = pivotedCholesky(symmetrized(a, n), n);
  if (rank === 0) return 0;
  // Bp = P B Pᵀ (in the pivot order of the factor), symmetrised.
  const bs = symmetrized(b, n);
  const bp = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const src = perm[i]! * n, dst = i * n;
    for (let j = 0; j < n; j++) bp[dst + j] = bs[src + perm[j]!]!;
  }
  // L is n×rank, lower triangular (L[k][c] = 0 for k < c); factorT holds Lᵀ row by row.
  // Tᵀ[c][i] = (Bp L)[i][c] = Σ_{k≥c} L[k][c] Bp[i][k].
  const tT = new Float64Array(rank * n);
  productNT(factorT, rank, bp, n, n, tT, false);
  // M = Lᵀ Bp L: M[c][e] = Σ_{k ≥ c} L[k][c] T[k][e] (upper triangle e ≥ c, then mirrored).
  const m = new Float64Array(rank * rank);
  productNT(factorT, rank, tT, rank, n, m, true);
  for (let c = 0; c < rank; c++) for (let e = c + 1; e < rank; e++) m[e * rank + c] = m[c * rank + e]!;
  let sum = 0;
  for (const ev of symmetricEigenvalues(m, rank)) if (ev > 0) sum += Math.sqrt(ev);
  return sum;
}

/** Rows of y kept hot per pass of productNT (32 rows of 2048 float64 = 512 KiB). */
const PANEL = 32;

/**
 * out[i·cols + j] = Σ_{k ≥ i} x[i·n + k] · y[j·n + k] for i < rows, j < cols: x's row i is zero
 * before column i (a triangular factor stored by rows), so each dot starts there. With `upperOnly`
 * only j ≥ i is computed. Cache-blocked: a panel of y rows is reused by every x row, and each step
 * computes a 2×2 block of dots so that every load feeds two multiply-adds.
 */
function productNT(x: Float64Array, rows: number, y: Float64Array, cols: number, n: number, out: Float64Array, upperOnly: boolean): void {
  for (let j0 = 0; j0 < cols; j0 += PANEL) {
    const j1 = Math.min(cols, j0 + PANEL);
    for (let i = 0; i < rows; i += 2) {
      const two = i + 1 < rows;
      const xa = i * n, xb = xa + n;
      for (let j = upperOnly ? Math.max(j0, i - (i % 2)) : j0; j < j1; j += 2) {
        const pair = j + 1 < j1;
        const ya = j * n, yb = ya + n;
        let s00 = 0, s01 = 0, s10 = 0, s11 = 0;
        // From k = i, row i+1 of x is zero at k = i, so starting at i is right for both rows.
        let k = i;
        if (two && pair) {
          for (; k < n; k++) {
            const a0 = x[xa + k]!, a1 = x[xb + k]!, b0 = y[ya + k]!, b1 = y[yb + k]!;
            s00 += a0 * b0;
            s01 += a0 * b1;
            s10 += a1 * b0;
            s11 += a1 * b1;
          }
        } else {
          for (; k < n; k++) {
            const a0 = x[xa + k]!, b0 = y[ya + k]!;
            s00 += a0 * b0;
            if (pair) s01 += a0 * y[yb + k]!;
            if (two) s10 += x[xb + k]! * b0;
            if (two && pair) s11 += x[xb + k]! * y[yb + k]!;
          }
        }
        out[i * cols + j] = s00;
        if (pair) out[i * cols + j + 1] = s01;
        if (two) out[(i + 1) * cols + j] = s10;
        if (two && pair) out[(i + 1) * cols + j + 1] = s11;
      }
    }
  }
}

function symmetrized(a: Float64Array, n: number): Float64Array {
  const s = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    s[i * n + i] = a[i * n + i]!;
    for (let j = i + 1; j < n; j++) {
      const v = 0.5 * (a[i * n + j]! + a[j * n + i]!);
      s[i * n + j] = v;
      s[j * n + i] = v;
    }
  }
  return s;
}

/**
 * Pivoted (diagonal pivoting) Cholesky of a symmetric PSD matrix, as LAPACK's dpstrf: P A Pᵀ ≈ L Lᵀ
 * with L n×rank, stopping when the largest remaining diagonal is ≤ n·ε·max(diag A) (dpstrf's default
 * tolerance). `a` is overwritten. Returns Lᵀ (rank rows of n, row c = column c of L, zero before c)
 * and the permutation (row i of P A Pᵀ is row perm[i] of A).
 */
export function pivotedCholesky(a: Float64Array, n: number): { factorT: Float64Array; perm: Int32Array; rank: number } {
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const lt = new Float64Array(n * n);
  let maxDiag = 0;
  for (let i = 0; i < n; i++) maxDiag = Math.max(maxDiag, a[i * n + i]!);
  const tol = n * Number.EPSILON * maxDiag;
  let rank = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (a[i * n + i]! > a[p * n + p]!) p = i;
    const pivot = a[p * n + p]!;
    if (!(pivot > tol)) break;
    if (p !== k) {
      swapSymmetric(a, n, k, p);
      for (let r = 0; r < k; r++) {
        const t = lt[r * n + k]!;
        lt[r * n + k] = lt[r * n + p]!;
        lt[r * n + p] = t;
      }
      const t = perm[k]!;
      perm[k] = perm[p]!;
      perm[p] = t;
    }
    const lkk = Math.sqrt(pivot);
    const row = k * n;
    lt[row + k] = lkk;
    // Column k of L below the diagonal: a[i][k] / lkk (a is symmetric, read row k).
    for (let i = k + 1; i < n; i++) lt[row + i] = a[row + i]! / lkk;
    // Trailing update, upper triangle only: a[i][j] −= L[i][k] L[j][k] for k < i ≤ j.
    for (let i = k + 1; i < n; i++) {
      const li = lt[row + i]!;
      if (li === 0) continue;
      const ri = i * n;
      for (let j = i; j < n; j++) a[ri + j] -= li * lt[row + j]!;
    }
    rank = k + 1;
  }
  return { factorT: lt.subarray(0, rank * n), perm, rank };
}

/** Swaps index k and p (k < p) of a symmetric matrix of which the upper triangle is current. */
function swapSymmetric(a: Float64Array, n: number, k: number, p: number): void {
  // Only rows/cols ≥ k matter (the trailing block); keep its upper triangle consistent.
  const at = (i: number, j: number) => (i <= j ? i * n + j : j * n + i);
  const swap = (x: number, y: number) => {
    const t = a[x]!;
    a[x] = a[y]!;
    a[y] = t;
  };
  swap(k * n + k, p * n + p);
  for (let j = k + 1; j < n; j++) if (j !== p) swap(at(k, j), at(p, j));
}

/**
 * Eigenvalues of a symmetric n×n matrix (row-major; `a` is overwritten), ascending: Householder
 * reduction to tridiagonal form, then the implicit QL algorithm with Wilkinson shifts.
 */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  const d = new Float64Array(n);
  const e = new Float64Array(n); // e[k] couples k and k+1
  tridiagonalize(a, n, d, e);
  tridiagonalQL(d, e, n);
  return d.sort();
}

/**
 * Householder tridiagonalisation of a symmetric matrix (its upper triangle is read and
 * overwritten): for each row k, H = I − β v vᵀ maps a[k, k+1..] onto a multiple of e1, and the
 * trailing block becomes H A H = A − v wᵀ − w vᵀ with p = β A v, w = p − (β vᵀp / 2) v. Diagonal
 * into d, superdiagonal into e. One pass over the trailing triangle per step: while row i is
 * updated for step k, it is multiplied into the next step's A v (the next Householder vector comes
 * from row k+1, updated first), so the matrix streams through the cache once per step, not twice.
 */
function tridiagonalize(a: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  let v = new Float64Array(n);
  let av = new Float64Array(n); // A22 v for the current step
  let v2 = new Float64Array(n);
  let av2 = new Float64Array(n);
  const w = new Float64Array(n);
  /** Householder vector of row k into `out` (indices k+1..n−1); returns β, or 0 when the row is already reduced. */
  const house = (k: number, out: Float64Array): number => {
    const row = k * n;
    let scale = 0;
    for (let i = k + 1; i < n; i++) scale = Math.max(scale, Math.abs(a[row + i]!));
    if (scale === 0) {
      e[k] = 0;
      out.fill(0, k + 1);
      return 0;
    }
    let norm2 = 0;
    for (let i = k + 1; i < n; i++) {
      const t = a[row + i]! / scale;
      out[i] = t;
      norm2 += t * t;
    }
    const x0 = out[k + 1]!;
    const alpha = x0 >= 0 ? -Math.sqrt(norm2) : Math.sqrt(norm2);
    e[k] = alpha * scale;
    out[k + 1] = x0 - alpha; // v = x − α e1, scaled by 1/scale; β = 2 / ‖v‖² = 1 / (α² − α x0)
    return 1 / (alpha * alpha - alpha * x0);
  };
  /** Adds row i's part of A·vec to out (upper-triangle storage: row i holds A[i][j] for j ≥ i). */
  const symvRow = (i: number, vec: Float64Array, out: Float64Array) => {
    const ri = i * n, vi = vec[i]!;
    let acc = a[ri + i]! * vi;
    for (let j = i + 1; j < n; j++) {
      const aij = a[ri + j]!;
      acc += aij * vec[j]!;
      out[j] += aij * vi;
    }
    out[i] += acc;
  };
  /** out[j] = (A v)[j] over the trailing block from row `from`. */
  const symv = (from: number, vec: Float64Array, out: Float64Array) => {
    out.fill(0, from);
    for (let i = from; i < n; i++) symvRow(i, vec, out);
  };
  if (n > 2) {
    d[0] = a[0]!;
    let beta = house(0, v);
    if (beta !== 0) symv(1, v, av);
    for (let k = 0; k < n - 2; k++) {
      const f = k + 1; // first row of the trailing block
      let nextBeta = 0;
      if (beta !== 0) {
        let vp = 0;
        for (let i = f; i < n; i++) vp += v[i]! * av[i]!;
        const kk = (beta * beta * vp) / 2;
        for (let i = f; i < n; i++) w[i] = beta * av[i]! - kk * v[i]!;
        // Row f first: the next Householder vector comes from it.
        const rf = f * n, vf = v[f]!, wf = w[f]!;
        for (let j = f; j < n; j++) a[rf + j] -= vf * w[j]! + wf * v[j]!;
      }
      d[f] = a[f * n + f]!;
      const next = k + 1 < n - 2;
      if (next) nextBeta = house(f, v2);
      const fuse = next && nextBeta !== 0;
      if (fuse) av2.fill(0, f + 1);
      if (beta !== 0 || fuse) {
        for (let i = f + 1; i < n; i++) {
          const ri = i * n, vi = v[i]!, wi = w[i]!;
          if (beta !== 0) for (let j = i; j < n; j++) a[ri + j] -= vi * w[j]! + wi * v[j]!;
          if (fuse) symvRow(i, v2, av2); // row i is still in the cache
        }
      }
      if (next) {
        [v, v2] = [v2, v];
        [av, av2] = [av2, av];
        beta = nextBeta;
      }
    }
  }
  if (n >= 2) {
    d[n - 2] = a[(n - 2) * n + n - 2]!;
    e[n - 2] = a[(n - 2) * n + n - 1]!;
  }
  if (n >= 1) d[n - 1] = a[n * n - 1]!;
  if (n >= 1) e[n - 1] = 0;
}

/**
 * Eigenvalues of the symmetric tridiagonal matrix (d diagonal, e[k] the (k, k+1) entry) by the
 * implicit QL algorithm with Wilkinson shifts and plane rotations; d is overwritten.
 */
function tridiagonalQL(d: Float64Array, e: Float64Array, n: number): void {
  // An off-diagonal element is negligible next to its diagonal neighbours, or next to the whole
  // matrix: a singular covariance gives many eigenvalues at rounding level (≈ ε‖T‖), where the
  // relative test alone never deflates (a set of fewer images than dimensions).
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]!) + Math.abs(e[i]!) + (i > 0 ? Math.abs(e[i - 1]!) : 0));
  const tiny = Number.EPSILON * norm;
  for (let l = 0; l < n; l++) {
    let iterations = 0;
    for (;;) {
      // Find a negligible off-diagonal element e[m] splitting the matrix at m ≥ l.
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m]!) + Math.abs(d[m + 1]!);
        const em = Math.abs(e[m]!);
        if (em <= Number.EPSILON * dd || em <= tiny) break;
      }
      if (m === l) break;
      if (++iterations > 60) throw new Error(`symmetricEigenvalues: QL did not converge at ${l}`);
      // Wilkinson shift from the leading 2×2 block at l.
      let g = (d[l + 1]! - d[l]!) / (2 * e[l]!);
      let r = Math.hypot(g, 1);
      g = d[m]! - d[l]! + e[l]! / (g + (g >= 0 ? Math.abs(r) : -Math.abs(r)));
      let s = 1, c = 1, p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * e[i]!;
        const b = c * e[i]!;
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // Underflow: deflate and restart.
          d[i + 1] -= p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1]! - p;
        r = (d[i]! - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
      }
      if (r === 0 && i >= l) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}
