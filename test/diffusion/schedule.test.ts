import { describe, expect, it } from 'vitest';
import { createSchedule, linearBetas, spaceTimesteps } from '../../src/diffusion/schedule.js';

const range = (start: number, stop: number, step = 1): number[] =>
  Array.from({ length: Math.ceil((stop - start) / step) }, (_, i) => start + i * step);

describe('spaceTimesteps', () => {
  // Stride (1000 − 1)/(N − 1), accumulated and rounded half to even like Python's round().
  it('N = 10: stride 111 exactly', () => {
    expect(spaceTimesteps(10, 'uniform')).toEqual(range(0, 1000, 111));
  });

  it('N = 25: stride 41.625, ties 166.5 → 166, 499.5 → 500, 832.5 → 832', () => {
    expect(spaceTimesteps(25, 'uniform')).toEqual([
      0, 42, 83, 125, 166, 208, 250, 291, 333, 375, 416, 458, 500, 541, 583, 624, 666, 708, 749, 791, 832, 874, 916,
      957, 999,
    ]);
  });

  it('N = 7: stride 166.5, ties to even', () => {
    expect(spaceTimesteps(7, 'uniform')).toEqual([0, 166, 333, 500, 666, 832, 999]);
  });

  it('N = 50: stride 999/49 ≈ 20.388', () => {
    expect(spaceTimesteps(50, 'uniform')).toEqual([
      0, 20, 41, 61, 82, 102, 122, 143, 163, 183, 204, 224, 245, 265, 285, 306, 326, 347, 367, 387, 408, 428, 449, 469,
      489, 510, 530, 550, 571, 591, 612, 632, 652, 673, 693, 714, 734, 754, 775, 795, 816, 836, 856, 877, 897, 917, 938,
      958, 979, 999,
    ]);
  });

  it('N = 250: stride 999/249 ≈ 4.012 — starts by fours, ends at 999', () => {
    const steps = spaceTimesteps(250, 'uniform');
    expect(steps).toHaveLength(250);
    expect(steps.slice(0, 12)).toEqual(range(0, 48, 4));
    expect(steps.slice(-5)).toEqual([983, 987, 991, 995, 999]);
    // round(k · 999/249) everywhere, as no accumulated index lands near a tie.
    expect(steps).toEqual(range(0, 250).map((k) => Math.round((k * 999) / 249)));
  });

  it('N = 1000 keeps every step; N = 1 and N = 2 keep the ends', () => {
    expect(spaceTimesteps(1000, 'uniform')).toEqual(range(0, 1000));
    expect(spaceTimesteps(1, 'uniform')).toEqual([0]);
    expect(spaceTimesteps(2, 'uniform')).toEqual([0, 999]);
  });

  it('ddim50: integer stride 20', () => {
    expect(spaceTimesteps(50, 'ddim')).toEqual(range(0, 1000, 20));
    expect(spaceTimesteps(1000, 'ddim')).toEqual(range(0, 1000));
  });

  it('rejects counts it cannot make, naming the value and the allowed range', () => {
    expect(() => spaceTimesteps(0, 'uniform')).toThrow(/sampling steps 0 is invalid.*from 1 to 1000/);
    expect(() => spaceTimesteps(1001, 'uniform')).toThrow(/sampling steps 1001 is invalid/);
    expect(() => spaceTimesteps(2.5, 'uniform')).toThrow(/sampling steps 2.5 is invalid/);
    // ceil(1000/s) for s = 21 … 24 gives 48, 46, 44, 42: no 45 (nor 43, 47).
    expect(() => spaceTimesteps(45, 'ddim')).toThrow(/cannot make exactly 45 steps.*nearby: 42, 44, 46, 48/);
    expect(() => spaceTimesteps(10, 'karras' as never)).toThrow(/spacing 'karras' is unknown; use one of: uniform, ddim/);
  });
});

describe('createSchedule', () => {
  it('linear betas: 1e-4 … 0.02 in float64 like np.linspace', () => {
    const b = linearBetas();
    expect(b).toHaveLength(1000);
    expect(b[0]).toBe(1e-4);
    expect(b[1]).toBeCloseTo(1e-4 + 0.0199 / 999, 17);
    expect(b[999]).toBe(0.02);
  });

  // Reference values printed by the official SpacedDiffusion(space_timesteps(1000, "10"), linear betas).
  it('matches the official respaced terms for N = 10 (float64)', () => {
    const s = createSchedule(10);
    expect(Array.from(s.timestepMap)).toEqual(range(0, 1000, 111));
    const at = (arr: Float64Array): number[] => [0, 1, 5, 9].map((k) => arr[k]);
    const expectClose = (got: number[], want: number[]): void =>
      got.forEach((g, i) => expect(Math.abs(g - want[i])).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(want[i]))));
    expectClose(at(s.betas), [9.999999999998899e-5, 0.12630763785293664, 0.674480639045262, 0.8797882303918187]);
    expectClose(at(s.alphasCumprod), [0.9999, 0.8736049929108487, 0.04325006930112191, 4.0358297653756754e-5]);
    expectClose(at(s.posteriorVariance), [0, 9.99308760383494e-5, 0.6113048725898728, 0.8795283582821891]);
    expectClose(at(s.posteriorLogVarianceClipped), [
      -9.211031850608943, -9.211031850608943, -0.4921594711140638, -0.12836947168341922,
    ]);
    expectClose(at(s.posteriorMeanCoef1), [1, 0.9992587936963865, 0.2569662223661138, 0.0161208746055828]);
    expectClose(at(s.posteriorMeanCoef2), [0, 0.0007395190245655705, 0.5171026719396995, 0.3466132768950889]);
    expectClose(at(s.sqrtRecipm1AlphasCumprod), [0.01000050003749898, 0.38037100632746695, 4.703333948915076, 157.4072808104076]);
    expect(s.alphasCumprodPrev[0]).toBe(1);
    expect(s.fixedLargeLogVariance[0]).toBe(s.posteriorLogVarianceClipped[0]);
    expect(s.fixedLargeLogVariance[5]).toBe(Math.log(s.betas[5]));
  });

  it('respaced ᾱ equals the original ᾱ at the kept timesteps', () => {
    const betas = linearBetas();
    const original: number[] = [];
    let acc = 1;
    for (const b of betas) original.push((acc *= 1 - b));
    const s = createSchedule(50, 'ddim');
    s.timestepMap.forEach((t, k) => expect(Math.abs(s.alphasCumprod[k] - original[t])).toBeLessThan(1e-15));
  });
});
