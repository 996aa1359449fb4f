/**
 * Ancestral DDPM sampling (Ho et al. 2020, Algorithm 2), exactly as the official `p_sample_loop`:
 * x0 = √(1/ᾱ)·x − √(1/ᾱ − 1)·ε, mean of q(x_{t−1} | x_t, x0), variance learned-range (Nichol &
 * Dhariwal 2021, Eq. 15) or fixed; a `randn_like` draw at every step, the last one included, where
 * it is multiplied by 0. Coefficients are float64 cast to float32; arithmetic follows PyTorch's
 * float32 operation order so that a seeded run matches the official one.
 */
import { DitError } from '../../errors.js';
import type { SamplerOptions, VarianceType } from '../types.js';
import { drawStepNoise, layoutOf, outIndex, reverseSteps, runModel } from './common.js';

const f32 = Math.fround;

export async function sampleDdpm(options: SamplerOptions): Promise<Float32Array> {
  const layout = layoutOf(options);
  const { schedule, onStep } = options;
  const variance: VarianceType = options.variance ?? (options.learnedSigma ? 'learned-range' : 'fixed-large');
  if (variance === 'learned-range' && !options.learnedSigma) {
    throw new DitError("variance 'learned-range' needs a model that learns sigma (2C output channels); use fixed-small or fixed-large");
  }
  const vOffset = layout.channels * layout.planeSize; // from an eps value to its v value
  const numSteps = schedule.numSteps;
  let x: Float32Array = Float32Array.from(options.x);

  for (const { i, k, t } of reverseSteps(options)) {
    const out = await runModel(options, layout, x, t);
    const noise = drawStepNoise(options, layout);

    const recip = f32(schedule.sqrtRecipAlphasCumprod[k]);
    const recipm1 = f32(schedule.sqrtRecipm1AlphasCumprod[k]);
    const coef1 = f32(schedule.posteriorMeanCoef1[k]);
    const coef2 = f32(schedule.posteriorMeanCoef2[k]);
    const minLog = f32(schedule.posteriorLogVarianceClipped[k]);
    const maxLog = f32(schedule.logBetas[k]);
    const fixedLog = f32(variance === 'fixed-small' ? schedule.posteriorLogVarianceClipped[k] : schedule.fixedLargeLogVariance[k]);
    const fixedStd = f32(Math.exp(f32(0.5 * fixedLog)));
    const nonzero = k === 0 ? 0 : 1; // the step into x0 adds no noise

    const next = new Float32Array(layout.size);
    const x0 = new Float32Array(layout.size);
    for (let e = 0; e < layout.size; e++) {
      const o = outIndex(layout, e);
      const pred = f32(f32(recip * x[e]) - f32(recipm1 * out[o]));
      const mean = f32(f32(coef1 * pred) + f32(coef2 * x[e]));
      let std = fixedStd;
      if (variance === 'learned-range') {
        const frac = f32(f32(out[o + vOffset] + 1) / 2);
        const logVar = f32(f32(frac * maxLog) + f32(f32(1 - frac) * minLog));
        std = f32(Math.exp(f32(0.5 * logVar)));
      }
      next[e] = mean + f32(f32(nonzero * std) * noise[e]);
      x0[e] = pred;
    }
    onStep?.({ i, numSteps, t, x: next, x0 });
    x = next;
  }
  return x;
}
