/**
 * The DiT noise schedule (facebookresearch/DiT diffusion/gaussian_diffusion.py and respace.py):
 * 1000 linear betas, respaced to the sampling step count, every term in float64 like the numpy code.
 */
import { assert } from '../errors.js';

/** Training steps of every DiT checkpoint (original timesteps 0 … TRAIN_TIMESTEPS − 1). */
export const TRAIN_TIMESTEPS = 1000;
const BETA_START = 1e-4;
const BETA_END = 0.02;

/**
 * `uniform`: `space_timesteps(1000, "N")` (one section, fractional stride, Python rounding), what
 * the official sample.py uses for every sampler. `ddim`: `"ddimN"`, the DDIM paper's integer stride.
 */
export type TimestepSpacing = 'uniform' | 'ddim';
export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = ['uniform', 'ddim'];

/** The respaced process; index k = 0 … numSteps − 1 runs from the least to the most noisy step. */
export interface DiffusionSchedule {
  readonly numSteps: number;
  readonly spacing: TimestepSpacing;
  readonly timestepMap: Int32Array; // original timestep of respaced step k: what the model sees
  readonly betas: Float64Array; // 1 − ᾱ_k / ᾱ_{k−1} over the kept steps
  readonly logBetas: Float64Array;
  readonly alphasCumprod: Float64Array; // ᾱ_k, equal to the original ᾱ at timestepMap[k]
  readonly alphasCumprodPrev: Float64Array; // ᾱ_{k−1}, 1 for k = 0
  readonly sqrtRecipAlphasCumprod: Float64Array; // √(1/ᾱ)
  readonly sqrtRecipm1AlphasCumprod: Float64Array; // √(1/ᾱ − 1)
  readonly posteriorVariance: Float64Array; // β̃_k = β_k (1 − ᾱ_{k−1}) / (1 − ᾱ_k)
  readonly posteriorLogVarianceClipped: Float64Array; // log β̃ with β̃_0 replaced by β̃_1
  readonly posteriorMeanCoef1: Float64Array; // multiplies x0 in the mean of q(x_{k−1} | x_k, x0)
  readonly posteriorMeanCoef2: Float64Array; // multiplies x_k
  readonly fixedLargeLogVariance: Float64Array; // log([β̃_1, β_1, β_2, …]): FIXED_LARGE
}

/** Linear betas 1e-4 … 0.02 over 1000 steps, like np.linspace in float64. */
export function linearBetas(count = TRAIN_TIMESTEPS): Float64Array {
  const scale = TRAIN_TIMESTEPS / count;
  const start = scale * BETA_START;
  const end = scale * BETA_END;
  const betas = new Float64Array(count);
  // np.linspace: start + i·step, with the last point set to `end` exactly.
  const step = (end - start) / (count - 1);
  for (let i = 0; i < count; i++) betas[i] = start + i * step;
  betas[count - 1] = end;
  return betas;
}

/** Python 3's round(): to the nearest integer, ties to even. */
function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * The original timesteps kept for `numSteps` sampling steps, ascending: `space_timesteps(1000, "N")`
 * or `space_timesteps(1000, "ddimN")`.
 */
export function spaceTimesteps(numSteps: number, spacing: TimestepSpacing): number[] {
  // options.ts has validated the user's values; these are promises from the caller.
  assert(
    Number.isInteger(numSteps) && numSteps >= 1 && numSteps <= TRAIN_TIMESTEPS,
    `number of sampling steps ${numSteps} is invalid; it must be an integer from 1 to ${TRAIN_TIMESTEPS}`,
  );
  assert(TIMESTEP_SPACINGS.includes(spacing), `timestep spacing '${String(spacing)}' is unknown; use one of: ${TIMESTEP_SPACINGS.join(', ')}`);
  if (spacing === 'ddim') {
    const stride = ddimStride(numSteps);
    assert(
      stride !== undefined,
      () =>
        `ddim spacing cannot make exactly ${numSteps} steps from ${TRAIN_TIMESTEPS} with an integer stride ` +
          `(possible nearby: ${nearbyDdimCounts(numSteps).join(', ')}); pick one of those or use uniform spacing`,
    );
    const steps: number[] = [];
    for (let t = 0; t < TRAIN_TIMESTEPS; t += stride) steps.push(t);
    return steps;
  }
  // One section covering all 1000 steps; the index accumulates the float stride like the Python loop.
  const fracStride = numSteps <= 1 ? 1 : (TRAIN_TIMESTEPS - 1) / (numSteps - 1);
  const steps: number[] = [];
  let cur = 0;
  for (let k = 0; k < numSteps; k++) {
    steps.push(roundHalfEven(cur));
    cur += fracStride;
  }
  return [...new Set(steps)].sort((a, b) => a - b);
}

/** The integer stride `"ddimN"` uses for N = numSteps (len(range(0, 1000, stride)) = N), if any. */
export function ddimStride(numSteps: number): number | undefined {
  for (let stride = 1; stride < TRAIN_TIMESTEPS; stride++) {
    if (Math.ceil(TRAIN_TIMESTEPS / stride) === numSteps) return stride;
  }
  return undefined;
}

/** The achievable ddim step counts just below and just above `numSteps`. */
export function nearbyDdimCounts(numSteps: number): number[] {
  const counts = new Set<number>();
  for (let stride = 1; stride < TRAIN_TIMESTEPS; stride++) counts.add(Math.ceil(TRAIN_TIMESTEPS / stride));
  const sorted = [...counts].sort((a, b) => a - b);
  const below = sorted.filter((c) => c < numSteps).slice(-2);
  const above = sorted.filter((c) => c > numSteps).slice(0, 2);
  return [...below, ...above];
}

/** The respaced schedule that `create_diffusion(str(numSteps))` (or `"ddimN"`) builds. */
export function createSchedule(numSteps: number, spacing: TimestepSpacing = 'uniform'): DiffusionSchedule {
  const kept = spaceTimesteps(numSteps, spacing);
  const baseBetas = linearBetas();
  const keptSet = new Set(kept);
  const newBetas: number[] = [];
  let baseCumprod = 1;
  let lastCumprod = 1;
  for (let t = 0; t < TRAIN_TIMESTEPS; t++) {
    baseCumprod *= 1 - baseBetas[t];
    if (keptSet.has(t)) {
      newBetas.push(1 - baseCumprod / lastCumprod);
      lastCumprod = baseCumprod;
    }
  }
  return { ...diffusionTerms(Float64Array.from(newBetas)), numSteps: kept.length, spacing, timestepMap: Int32Array.from(kept) };
}

/** GaussianDiffusion.__init__'s derived arrays for a beta sequence. */
function diffusionTerms(betas: Float64Array): Omit<DiffusionSchedule, 'numSteps' | 'spacing' | 'timestepMap'> {
  const n = betas.length;
  const make = (fn: (k: number) => number): Float64Array => Float64Array.from({ length: n }, (_, k) => fn(k));
  const alphasCumprod = new Float64Array(n);
  let acc = 1;
  for (let k = 0; k < n; k++) alphasCumprod[k] = acc *= 1 - betas[k];
  const alphasCumprodPrev = make((k) => (k === 0 ? 1 : alphasCumprod[k - 1]));
  const posteriorVariance = make((k) => (betas[k] * (1 - alphasCumprodPrev[k])) / (1 - alphasCumprod[k]));
  // β̃_0 is 0, so its log is clipped to β̃_1's. A one-step process has no β̃_1 (the official code
  // then fails with an IndexError); log β_0 keeps it finite, and the only step (t = 0) adds no noise.
  const clippedLog = (k: number): number =>
    k > 0 ? Math.log(posteriorVariance[k]) : n > 1 ? Math.log(posteriorVariance[1]) : Math.log(betas[0]);
  return {
    betas,
    logBetas: make((k) => Math.log(betas[k])),
    alphasCumprod,
    alphasCumprodPrev,
    sqrtRecipAlphasCumprod: make((k) => Math.sqrt(1 / alphasCumprod[k])),
    sqrtRecipm1AlphasCumprod: make((k) => Math.sqrt(1 / alphasCumprod[k] - 1)),
    posteriorVariance,
    posteriorLogVarianceClipped: make(clippedLog),
    posteriorMeanCoef1: make((k) => (betas[k] * Math.sqrt(alphasCumprodPrev[k])) / (1 - alphasCumprod[k])),
    posteriorMeanCoef2: make((k) => ((1 - alphasCumprodPrev[k]) * Math.sqrt(1 - betas[k])) / (1 - alphasCumprod[k])),
    fixedLargeLogVariance: make((k) => (k === 0 ? clippedLog(0) : Math.log(betas[k]))),
  };
}
