/**
 * DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2, midpoint form), as diffusers'
 * DPMSolverMultistepScheduler with algorithm_type dpmsolver++ and solver_order 2, on the respaced
 * discrete schedule: one model call per kept timestep, x0 predicted from eps, λ = log(α/σ) with
 * α = √ᾱ, σ = √(1 − ᾱ). The loop ends like DDIM's: the last model call is at t = 0 and its x0
 * prediction is the result (a first-order step to σ = 0). First order also for the first step (no
 * history) and for the step INTO t = 0: σ there is only 0.01, so that step plays the part of
 * diffusers' final step to σ = 0, which it always takes at first order (final_sigmas_type "zero",
 * lower_order_final); extrapolating the x0 slope across its large λ jump (h ≈ 3 at 20 steps)
 * overshoots, measured on Gaussian data in test/diffusion/samplers.test.ts.
 * Deterministic: it draws no noise, so `rng` and `noiseBatch` are ignored.
 */
import type { SamplerOptions } from '../types.js';
import { layoutOf, outIndex, reverseSteps, runModel } from './common.js';

export async function sampleDpmSolverPp2m(options: SamplerOptions): Promise<Float32Array> {
  const layout = layoutOf(options);
  const { schedule, onStep } = options;
  const numSteps = schedule.numSteps;
  const alpha = (k: number): number => (k < 0 ? 1 : Math.sqrt(schedule.alphasCumprod[k]));
  const sigma = (k: number): number => (k < 0 ? 0 : Math.sqrt(1 - schedule.alphasCumprod[k]));
  const lambda = (k: number): number => Math.log(alpha(k)) - Math.log(sigma(k));

  let x: Float32Array = Float32Array.from(options.x);
  let previousX0: Float32Array | undefined; // the multistep history: the last step's x0 prediction
  let previousH = 0;

  // Each step goes from respaced index k to k − 1 (−1 = clean).
  for (const { i, k, t } of reverseSteps(options)) {
    const out = await runModel(options, layout, x, t);

    const x0 = new Float32Array(layout.size);
    for (let e = 0; e < layout.size; e++) x0[e] = (x[e] - sigma(k) * out[outIndex(layout, e)]) / alpha(k);

    let next: Float32Array;
    if (k === 0) {
      next = x0; // h = ∞: first-order update to σ = 0 is x0 itself
    } else {
      const h = lambda(k - 1) - lambda(k);
      const xCoef = sigma(k - 1) / sigma(k);
      const dCoef = -alpha(k - 1) * Math.expm1(-h); // −α'(e^{−h} − 1)
      next = new Float32Array(layout.size);
      if (previousX0 === undefined || k === 1) {
        for (let e = 0; e < layout.size; e++) next[e] = xCoef * x[e] + dCoef * x0[e];
      } else {
        // D = x0 + (1/(2r))·(x0 − x0_prev), r = h_prev / h.
        const half = 0.5 * (h / previousH);
        for (let e = 0; e < layout.size; e++) {
          next[e] = xCoef * x[e] + dCoef * (x0[e] + half * (x0[e] - previousX0[e]));
        }
      }
      previousH = h;
    }
    previousX0 = x0;
    onStep?.({ i, numSteps, t, x: next, x0 });
    x = next;
  }
  return x;
}
