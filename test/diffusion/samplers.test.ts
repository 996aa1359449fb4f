import { describe, expect, it } from 'vitest';
import { createTorchGenerator } from '../../src/diffusion/random.js';
import { createSchedule, type DiffusionSchedule } from '../../src/diffusion/schedule.js';
import { sampleDdim } from '../../src/diffusion/samplers/ddim.js';
import { sampleDdpm } from '../../src/diffusion/samplers/ddpm.js';
import { sampleDpmSolverPp2m } from '../../src/diffusion/samplers/dpmpp-2m.js';
import { SAMPLER_FUNCTIONS } from '../../src/diffusion/samplers/index.js';
import type { LatentShape, ModelFn, SamplerOptions, SamplerStep } from '../../src/diffusion/types.js';
import { exactOdeEndpoint, gaussianEpsModel, relativeError, type GaussianData } from './analytic.js';

const data: GaussianData = { mean: [0.5, -1, 0], std: [0.3, 1, 0.5] };

describe('ODE samplers on Gaussian data (exact eps, exact probability-flow end point)', () => {
  const shape: LatentShape = [2, 3, 8, 8];
  const xT = createTorchGenerator(0).randn(2 * 3 * 64);
  const stepCounts = [10, 20, 50, 100, 250, 1000];

  async function endpointErrors(sampler: (o: SamplerOptions) => Promise<Float32Array>): Promise<number[]> {
    const errors: number[] = [];
    for (const k of stepCounts) {
      const schedule = createSchedule(k);
      const want = exactOdeEndpoint(data, shape, xT, schedule.timestepMap[k - 1]);
      const got = await sampler({ model: gaussianEpsModel(data, shape), x: xT, shape, schedule, learnedSigma: false });
      errors.push(relativeError(got, want));
    }
    return errors;
  }

  it('DDIM (eta 0) converges at first order; DPM-Solver++(2M) faster, and closer at 20 steps', async () => {
    const ddim = await endpointErrors(sampleDdim);
    const dpm = await endpointErrors(sampleDpmSolverPp2m);
    for (let i = 1; i < stepCounts.length; i++) {
      expect(ddim[i]).toBeLessThan(ddim[i - 1]);
      expect(dpm[i]).toBeLessThan(dpm[i - 1]);
    }
    // First order: 10× the steps, about 10× less error.
    expect(ddim[0] / ddim[3]).toBeGreaterThan(7);
    expect(ddim[5]).toBeLessThan(3e-3);
    expect(dpm[1]).toBeLessThan(ddim[1] / 2); // 20 steps
    expect(dpm[3]).toBeLessThan(ddim[3] / 10); // 100 steps
    expect(dpm[5]).toBeLessThan(3e-4);
  });

  it('also on the "ddimN" striding, which starts at t = 980 for 50 steps', async () => {
    const schedule = createSchedule(50, 'ddim');
    expect(schedule.timestepMap[49]).toBe(980);
    const want = exactOdeEndpoint(data, shape, xT, 980);
    const ddim = await sampleDdim({ model: gaussianEpsModel(data, shape), x: xT, shape, schedule, learnedSigma: false });
    const dpm = await sampleDpmSolverPp2m({ model: gaussianEpsModel(data, shape), x: xT, shape, schedule, learnedSigma: false });
    expect(relativeError(ddim, want)).toBeLessThan(0.05);
    expect(relativeError(dpm, want)).toBeLessThan(relativeError(ddim, want) / 5);
  });
});

/** Respaced index of each original timestep the schedule keeps. */
function indexOfTimestep(schedule: DiffusionSchedule): Map<number, number> {
  return new Map(Array.from(schedule.timestepMap, (t, k) => [t, k]));
}

describe('DDPM', () => {
  it('with the exact reverse variance, its samples have the data mean and variance (16384 per channel)', async () => {
    const shape: LatentShape = [16, 3, 32, 32];
    const schedule = createSchedule(50);
    const kOf = indexOfTimestep(schedule);
    // q(x_{k−1} | x_k) of Gaussian data has variance β̃_k + coef1_k² · Var[x0 | x_k]; v puts it on
    // the learned-range scale frac·log β + (1 − frac)·log β̃ (clipped).
    const exactV = (c: number, t: number): number => {
      const k = kOf.get(t)!;
      if (k === 0) return 0; // no noise is added at the last step
      const abar = schedule.alphasCumprod[k];
      const s2 = data.std[c] ** 2;
      const x0Var = (s2 * (1 - abar)) / (abar * s2 + 1 - abar);
      const target = Math.log(schedule.posteriorVariance[k] + schedule.posteriorMeanCoef1[k] ** 2 * x0Var);
      const frac = (target - schedule.posteriorLogVarianceClipped[k]) / (schedule.logBetas[k] - schedule.posteriorLogVarianceClipped[k]);
      return 2 * frac - 1;
    };
    const rng = createTorchGenerator(1);
    const z = rng.randn(16 * 3 * 1024);
    const out = await sampleDdpm({ model: gaussianEpsModel(data, shape, exactV), x: z, shape, schedule, learnedSigma: true, rng });
    for (let c = 0; c < 3; c++) {
      const values: number[] = [];
      for (let b = 0; b < 16; b++) values.push(...out.subarray((b * 3 + c) * 1024, (b * 3 + c + 1) * 1024));
      const m = values.length;
      const mean = values.reduce((a, v) => a + v, 0) / m;
      const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (m - 1);
      const s2 = data.std[c] ** 2;
      // Four standard errors of the sample mean and variance.
      expect(Math.abs(mean - data.mean[c])).toBeLessThan((4 * data.std[c]) / Math.sqrt(m));
      expect(Math.abs(variance - s2)).toBeLessThan(4 * s2 * Math.sqrt(2 / m));
    }
  });

  it('computes one learned-range step exactly: v = 1 gives σ² = β, v = −1 gives β̃; draws noise even at t = 0', async () => {
    const shape: LatentShape = [1, 2, 2, 2];
    const schedule = createSchedule(2); // t = 999 (k = 1), then t = 0 (k = 0)
    const x = Float32Array.from([0.5, -1, 2, 0.25, -0.75, 1.5, 0, -2]);
    for (const v of [1, -1]) {
      // eps = 0.1 everywhere, v everywhere.
      const model: ModelFn = async () => Float32Array.from({ length: 16 }, (_, i) => (i < 8 ? 0.1 : v));
      const rng = createTorchGenerator(7);
      const replay = createTorchGenerator(7);
      const steps: SamplerStep[] = [];
      await sampleDdpm({ model, x, shape, schedule, learnedSigma: true, rng, noiseBatch: 2, onStep: (s) => steps.push(s) });
      const noise = replay.randn(2 * 8).subarray(0, 8); // the doubled batch's draw; the first image's half is used
      replay.randn(16); // the last step's draw
      expect(Array.from(rng.randn(4))).toEqual(Array.from(replay.randn(4)));
      const k = 1;
      const variance = v === 1 ? schedule.betas[k] : Math.exp(schedule.posteriorLogVarianceClipped[k]);
      x.forEach((xi, e) => {
        const x0 = schedule.sqrtRecipAlphasCumprod[k] * xi - schedule.sqrtRecipm1AlphasCumprod[k] * 0.1;
        const want = schedule.posteriorMeanCoef1[k] * x0 + schedule.posteriorMeanCoef2[k] * xi + Math.sqrt(variance) * noise[e];
        expect(Math.abs(steps[0].x[e] - want)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)));
        expect(Math.abs(steps[0].x0[e] - x0)).toBeLessThan(1e-5 * Math.abs(x0));
      });
      // The last step returns x0 = the posterior mean with coef1 = 1, coef2 = 0: no noise added.
      steps[1].x.forEach((xi, e) => expect(xi).toBe(steps[1].x0[e]));
    }
  });

  it('DDIM with eta = 1 is DDPM with fixed-small variance (same noise, same result)', async () => {
    const shape: LatentShape = [2, 3, 4, 4];
    const schedule = createSchedule(25);
    const z = createTorchGenerator(3).randn(96);
    const model = gaussianEpsModel(data, shape);
    const ddpm = await sampleDdpm({ model, x: z, shape, schedule, learnedSigma: false, variance: 'fixed-small', rng: createTorchGenerator(9) });
    const ddim = await sampleDdim({ model, x: z, shape, schedule, learnedSigma: false, eta: 1, rng: createTorchGenerator(9) });
    expect(relativeError(ddim, ddpm)).toBeLessThan(1e-5);
  });
});

describe('every sampler', () => {
  const shape: LatentShape = [2, 3, 4, 4];
  const model = gaussianEpsModel(data, shape);

  it.each([
    ['ddpm', { variance: 'fixed-large' as const }],
    ['ddim', { eta: 0.5 }],
  ])('%s: N images with a 2N noise batch are the first half of the doubled-batch run', async (name, extra) => {
    const sampler = SAMPLER_FUNCTIONS[name as 'ddpm' | 'ddim'];
    const schedule = createSchedule(10);
    const doubledShape: LatentShape = [4, 3, 4, 4];
    const doubledX = createTorchGenerator(11).randn(4 * 48);
    const doubled = await sampler({ ...extra, model: gaussianEpsModel(data, doubledShape), x: doubledX, shape: doubledShape, schedule, learnedSigma: false, rng: createTorchGenerator(5) });
    const half = await sampler({ ...extra, model, x: doubledX.slice(0, 96), shape, schedule, learnedSigma: false, rng: createTorchGenerator(5), noiseBatch: 4 });
    expect(Array.from(half)).toEqual(Array.from(doubled.subarray(0, 96)));
  });

  it.each(Object.keys(SAMPLER_FUNCTIONS))('%s: one onStep per step, t from 999 down to 0; stops on abort', async (name) => {
    const sampler = SAMPLER_FUNCTIONS[name as keyof typeof SAMPLER_FUNCTIONS];
    const schedule = createSchedule(10);
    const x = createTorchGenerator(2).randn(96);
    const seen: number[] = [];
    await sampler({ model, x, shape, schedule, learnedSigma: false, rng: createTorchGenerator(0), onStep: (s) => seen.push(s.t) });
    expect(seen).toEqual([999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);

    const controller = new AbortController();
    let calls = 0;
    const counting: ModelFn = (xs, ts) => ((calls += 1), model(xs, ts));
    const run = sampler({
      model: counting, x, shape, schedule, learnedSigma: false, rng: createTorchGenerator(0), signal: controller.signal,
      onStep: (s) => s.i === 1 && controller.abort(),
    });
    await expect(run).rejects.toThrow(/abort/i);
    expect(calls).toBe(2);
  });

  it('rejects mismatched inputs with a message that names the values', async () => {
    const schedule = createSchedule(5);
    const x = new Float32Array(96);
    await expect(sampleDdim({ model, x, shape, schedule, learnedSigma: true })).rejects.toThrow(
      /model returned 96 values at t = 999; expected 192 \(2 × 6 channels × 16\); learnedSigma is true/,
    );
    await expect(sampleDdpm({ model, x, shape, schedule, learnedSigma: false, variance: 'learned-range', rng: createTorchGenerator(0) })).rejects.toThrow(
      /'learned-range' needs a model that learns sigma/,
    );
    await expect(sampleDdpm({ model, x, shape, schedule, learnedSigma: false })).rejects.toThrow(/draws noise every step; pass `rng`/);
    await expect(sampleDdim({ model, x: new Float32Array(5), shape, schedule, learnedSigma: false })).rejects.toThrow(
      /initial noise has 5 values; shape \(2, 3, 4, 4\) needs 96/,
    );
    await expect(sampleDdim({ model, x, shape, schedule, learnedSigma: false, noiseBatch: 1 })).rejects.toThrow(/noise batch 1 is invalid/);
  });
});
