import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FeatureStatistics, frechetDistance, pivotedCholesky, symmetricEigenvalues } from '../../src/metrics/frechet.js';
import { readNpyFloat32, readNpyFloat64 } from '../diffusion/npy.js';
import { fixture } from '../helpers/fixtures.js';

interface Case { n_a: number; n_b: number; dim: number; fid_pytorch_fid: number; fid_pytorch_fid_f64: number; fid_eigh: number }
const manifest = JSON.parse(readFileSync(fixture('frechet', 'manifest.json'), 'utf8')) as { cases: Record<string, Case> };

/** Statistics of a fixture set, fed in uneven chunks so the batch merge is exercised. */
function statsOf(file: string, chunk = 7) {
  const { shape, data } = readNpyFloat32(fixture('frechet', file));
  const s = new FeatureStatistics(shape[1]!);
  for (let r = 0; r < shape[0]!; r += chunk) s.add(data.subarray(r * shape[1]!, Math.min(shape[0]!, r + chunk) * shape[1]!));
  expect(s.count).toBe(shape[0]);
  return s.finish();
}

describe('FeatureStatistics', () => {
  it('equals np.mean and np.cov(rowvar=False) in float64, streamed in chunks of 7 or all at once', () => {
    const mu = readNpyFloat64(fixture('frechet', 'random.a.mu.npy')).data;
    const sigma = readNpyFloat64(fixture('frechet', 'random.a.sigma.npy')).data;
    for (const chunk of [7, 1000]) {
      const s = statsOf('random.a.npy', chunk);
      for (let i = 0; i < mu.length; i++) expect(Math.abs(s.mu[i]! - mu[i]!)).toBeLessThan(1e-13);
      let maxDiff = 0;
      for (let i = 0; i < sigma.length; i++) maxDiff = Math.max(maxDiff, Math.abs(s.sigma[i]! - sigma[i]!));
      expect(maxDiff).toBeLessThan(1e-13);
    }
  });

  it('keeps the covariance of rows with a mean of 1000 (no Σx² − n·μ² cancellation)', () => {
    const shifted = statsOf('large-mean.a.npy');
    const plain = statsOf('random.a.npy');
    // large-mean.a is random.a + 1000 rounded to float32 (steps of 2^-14 ≈ 6e-5 at 1000).
    let maxDiff = 0, scale = 0;
    for (let i = 0; i < plain.sigma.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(shifted.sigma[i]! - plain.sigma[i]!));
      scale = Math.max(scale, Math.abs(plain.sigma[i]!));
    }
    expect(maxDiff / scale).toBeLessThan(1e-4);
  });

  it('refuses a covariance of one row and non-finite features', () => {
    const s = new FeatureStatistics(3);
    s.add(new Float32Array([1, 2, 3]));
    expect(() => s.finish()).toThrow(/at least 2 feature rows, got 1/);
    expect(() => s.add(new Float32Array([1, Number.NaN, 3]))).toThrow(/non-finite value \(NaN\) at dimension 1/);
  });
});

describe('frechetDistance', () => {
  for (const [name, c] of Object.entries(manifest.cases)) {
    it(`${name} (N ${c.n_a}/${c.n_b}, D ${c.dim}) matches pytorch-fid's calculate_frechet_distance`, () => {
      const a = statsOf(`${name}.a.npy`);
      const b = statsOf(`${name}.b.npy`);
      const fd = frechetDistance(a, b);
      if (name === 'self') {
        expect(Math.abs(fd)).toBeLessThan(1e-10);
        expect(Math.abs(c.fid_pytorch_fid)).toBeLessThan(1e-10);
      } else {
        // Same inputs as ours (μ in float64): pytorch-fid's function, to rounding — looser for the
        // singular case, where √ of eigenvalues at rounding level (≈1e-16·‖Σ‖) differs by method.
        expect(Math.abs(fd - c.fid_pytorch_fid_f64) / c.fid_pytorch_fid_f64).toBeLessThan(name.startsWith('singular') ? 1e-7 : 1e-8);
        expect(Math.abs(fd - c.fid_eigh) / c.fid_eigh).toBeLessThan(name === 'large-mean' ? 2e-5 : 1e-7);
        // pytorch-fid as it runs, μ = np.mean of float32 rows in float32: up to ~1e-5 apart when
        // the mean is 1000 (float32 steps of 6e-5 there), ~1e-7 otherwise.
        expect(Math.abs(fd - c.fid_pytorch_fid) / c.fid_pytorch_fid).toBeLessThan(name === 'large-mean' ? 2e-5 : 2e-7);
      }
      // The factorisation is of the first argument only; the distance is symmetric all the same.
      expect(Math.abs(frechetDistance(b, a) - fd)).toBeLessThan(1e-8 * Math.max(1, Math.abs(fd)));
    });
  }

  it('stops the pivoted Cholesky at the numerical rank of a singular covariance', () => {
    const a = statsOf('singular.a.npy'); // 20 rows of 48 dims: rank 19
    expect(pivotedCholesky(Float64Array.from(a.sigma), 48).rank).toBe(19);
  });
});

describe('symmetricEigenvalues', () => {
  it('gives the spectrum of Q diag(λ) Qᵀ for a dense orthogonal Q', () => {
    const n = 40;
    const lambda = Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : Math.pow(-1, i) * (1 + i * 0.37)));
    // Q from Householder reflections I − 2 u uᵀ with deterministic u, so the matrix is dense.
    const m = new Float64Array(n * n);
    for (let i = 0; i < n; i++) m[i * n + i] = lambda[i]!;
    for (let r = 0; r < 3; r++) {
      const u = Float64Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + r * 0.7 + 0.1));
      const norm = Math.hypot(...u);
      for (let i = 0; i < n; i++) u[i] /= norm;
      // m ← H m H with H = I − 2uuᵀ
      const mu = new Float64Array(n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) mu[i] += m[i * n + j]! * u[j]!;
      let umu = 0;
      for (let i = 0; i < n; i++) umu += u[i]! * mu[i]!;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m[i * n + j] += -2 * u[i]! * mu[j]! - 2 * mu[i]! * u[j]! + 4 * umu * u[i]! * u[j]!;
    }
    const ev = symmetricEigenvalues(m, n);
    const want = [...lambda].sort((x, y) => x - y);
    for (let i = 0; i < n; i++) expect(Math.abs(ev[i]! - want[i]!)).toBeLessThan(1e-12 * 16);
  });
});
