/**
 * Gaussian data x0 ~ N(μ_c, s_c²) per channel: everything a sampler needs is known in closed form.
 * With y = x_t/√ᾱ and σ² = (1 − ᾱ)/ᾱ, y ~ N(μ, s² + σ²), so
 *   eps(x_t, t) = E[ε | x_t] = √(1 − ᾱ)(x_t − √ᾱ μ) / (ᾱ s² + 1 − ᾱ),
 * and the probability-flow ODE dy/dσ = eps keeps (y − μ)/√(s² + σ²) constant: from x_T at σ_T its
 * end point at σ = 0 is x0 = μ + (y_T − μ)·s/√(s² + σ_T²).
 */
import { linearBetas } from '../../src/diffusion/schedule.js';
import type { LatentShape, ModelFn } from '../../src/diffusion/types.js';

const ORIGINAL_ALPHAS_CUMPROD: Float64Array = (() => {
  const betas = linearBetas();
  const out = new Float64Array(betas.length);
  let acc = 1;
  betas.forEach((b, i) => (out[i] = acc *= 1 - b));
  return out;
})();

export interface GaussianData {
  readonly mean: readonly number[]; // μ per channel
  readonly std: readonly number[]; // s per channel
}

/** The exact eps; with `variance`, also v channels (learned-range interpolation values). */
export function gaussianEpsModel(
  data: GaussianData,
  shape: LatentShape,
  variance?: (channel: number, t: number) => number,
): ModelFn {
  const [n, channels, height, width] = shape;
  const plane = height * width;
  const outChannels = variance ? 2 * channels : channels;
  return async (x, t) => {
    const out = new Float32Array(n * outChannels * plane);
    for (let b = 0; b < n; b++) {
      const abar = ORIGINAL_ALPHAS_CUMPROD[t[b]];
      for (let c = 0; c < channels; c++) {
        const mu = data.mean[c];
        const s2 = data.std[c] ** 2;
        const v = variance?.(c, t[b]) ?? 0;
        for (let p = 0; p < plane; p++) {
          const xi = x[(b * channels + c) * plane + p];
          out[(b * outChannels + c) * plane + p] = (Math.sqrt(1 - abar) * (xi - Math.sqrt(abar) * mu)) / (abar * s2 + 1 - abar);
          if (variance) out[(b * outChannels + channels + c) * plane + p] = v;
        }
      }
    }
    return out;
  };
}

/** The exact probability-flow ODE end point (σ = 0) of x_T given at original timestep tStart. */
export function exactOdeEndpoint(data: GaussianData, shape: LatentShape, xT: Float32Array, tStart: number): Float64Array {
  const [, channels, height, width] = shape;
  const plane = height * width;
  const abar = ORIGINAL_ALPHAS_CUMPROD[tStart];
  const sigma2 = (1 - abar) / abar;
  const out = new Float64Array(xT.length);
  for (let e = 0; e < xT.length; e++) {
    const c = Math.floor(e / plane) % channels;
    const mu = data.mean[c];
    const s = data.std[c];
    const y = xT[e] / Math.sqrt(abar);
    out[e] = mu + ((y - mu) * s) / Math.sqrt(s * s + sigma2);
  }
  return out;
}

export { relativeError } from '../helpers/compare.js';
