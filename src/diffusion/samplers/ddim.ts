/**
 * DDIM (Song et al. 2021, Eq. 12) exactly as the official `ddim_sample_loop`: eps re-derived from
 * the predicted x0, σ = η·√((1 − ᾱ')/(1 − ᾱ))·√(1 − ᾱ/ᾱ'); η = 0 is deterministic but, like the
 * official loop, still draws `randn_like(x)` every step when an rng is given (keeps the stream in
 * step with a PyTorch run). Float32 arithmetic in PyTorch's operation order.
 */
import { DitError } from '../../errors.js';
import type { SamplerOptions } from '../types.js';
import { drawStepNoise, layoutOf, outIndex, reverseSteps, runModel } from './common.js';

const f32 = Math.fround;

export async function sampleDdim(options: SamplerOptions): Promise<Float32Array> {
  const layout = layoutOf(options);
  const { schedule, onStep } = options;
  const eta = options.eta ?? 0;
  if (!Number.isFinite(eta) || eta < 0) throw new DitError(`ddim eta ${eta} is invalid; it must be ≥ 0 (0 = deterministic)`);
  if (eta > 0 && options.rng === undefined) throw new DitError(`ddim with eta ${eta} draws noise; pass rng`);
  const numSteps = schedule.numSteps;
  let x: Float32Array = Float32Array.from(options.x);

  for (const { i, k, t } of reverseSteps(options)) {
    const out = await runModel(options, layout, x, t);

    const recip = f32(schedule.sqrtRecipAlphasCumprod[k]);
    const recipm1 = f32(schedule.sqrtRecipm1AlphasCumprod[k]);
    const abar = f32(schedule.alphasCumprod[k]);
    const abarPrev = f32(schedule.alphasCumprodPrev[k]);
    const sigma = f32(
      f32(f32(eta) * f32(Math.sqrt(f32(f32(1 - abarPrev) / f32(1 - abar))))) * f32(Math.sqrt(f32(1 - f32(abar / abarPrev)))),
    );
    const noise = options.rng === undefined ? undefined : drawStepNoise(options, layout);
    const sqrtAbarPrev = f32(Math.sqrt(abarPrev));
    const epsCoef = f32(Math.sqrt(f32(f32(1 - abarPrev) - f32(sigma * sigma))));
    const noiseCoef = f32((k === 0 ? 0 : 1) * sigma);

    const next = new Float32Array(layout.size);
    const x0 = new Float32Array(layout.size);
    for (let e = 0; e < layout.size; e++) {
      const scaledX = f32(recip * x[e]);
      const pred = f32(scaledX - f32(recipm1 * out[outIndex(layout, e)]));
      const eps = f32(f32(scaledX - pred) / recipm1);
      const mean = f32(f32(pred * sqrtAbarPrev) + f32(epsCoef * eps));
      next[e] = noise === undefined ? mean : mean + f32(noiseCoef * noise[e]);
      x0[e] = pred;
    }
    onStep?.({ i, numSteps, t, x: next, x0 });
    x = next;
  }
  return x;
}
