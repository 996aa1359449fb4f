/**
 * REPA's samplers (sihyun-yu/REPA samplers.py, path_type "linear"): the interpolant runs the other
 * way from SiT's, x_t = (1 − t)·x_data + t·noise, t from 1 (noise) to 0, and the network predicts
 * its velocity. The state is float64 (`latents.to(torch.float64)`); the network sees it cast to
 * float32 with a float32 t.
 *
 * - `euler_maruyama_sampler` (repa-sde): t = linspace(1, 0.04, num_steps) then 0; drift
 *   d = v − ½·w·s with w = 2t and score s = (−(1 − t)·v − x)/(t² + (1 − t)·t), noise √w·√|dt|·ε with
 *   ε = randn_like(x) (float64, N images: the batch is only doubled for the model call); the last
 *   step, from 0.04 to 0, is the drift alone (the mean).
 * - `euler_sampler` (repa-ode): Euler on linspace(1, 0, num_steps + 1), or Heun (a second
 *   evaluation at t_next, skipped on the last step).
 *
 * Guidance on every channel of the drift, d_u + s·(d_c − d_u), and only when cfg_scale > 1 and
 * guidance_low ≤ t ≤ guidance_high (t of the step's start); outside, the network runs on the
 * undoubled batch. The null label is num_classes (REPA hard-codes 1000).
 */
import { assert, DitError } from '../../errors.js';
import { torchLinspace, type FlowSamplerOptions } from '../flow.js';

interface RepaModel {
  readonly n: number;
  readonly imageSize: number;
  /**
   * The drift of x (N images, float64) at time t, guided when `guideAt` (the step's start) is in
   * the interval: `drift(v, x)` maps the network's velocity (float64) to the step's drift.
   */
  drift(x: Float64Array, t: number, guideAt: number, drift: (v: number, x: number) => number): Promise<{ d: Float64Array; v: Float64Array }>;
}

function repaModel(options: FlowSamplerOptions): RepaModel {
  const [n, channels, height, width] = options.shape;
  const imageSize = channels * height * width;
  assert(options.labels.length === n, () => `${options.labels.length} labels for ${n} images`);
  assert(options.x.length === n * imageSize, () => `initial noise has ${options.x.length} values, (${options.shape.join(', ')}) needs ${n * imageSize}`);
  const { scale, form } = options.guidance;
  const [lo, hi] = options.guidance.interval ?? [0, 1];
  const labels = Int32Array.from(options.labels);
  const doubledLabels = new Int32Array(2 * n);
  doubledLabels.set(labels);
  doubledLabels.fill(options.nullClass, n);
  const size = n * imageSize;
  return {
    n,
    imageSize,
    async drift(x, t, guideAt, drift) {
      const guided = form !== 'off' && scale > 1 && guideAt <= hi && guideAt >= lo;
      const batch = guided ? 2 * n : n;
      const input = new Float32Array(batch * imageSize);
      input.set(x);
      if (guided) input.set(input.subarray(0, size), size);
      const out = await options.forward(input, new Float32Array(batch).fill(t), guided ? doubledLabels : labels, batch);
      if (out.length !== batch * imageSize) {
        throw new DitError(`model returned ${out.length} values at t = ${t}; expected ${batch} × ${imageSize}`);
      }
      const d = new Float64Array(size);
      const v = new Float64Array(size);
      for (let e = 0; e < size; e++) {
        const dCond = drift(out[e], x[e]);
        if (guided) {
          const dUncond = drift(out[size + e], x[e]);
          d[e] = dUncond + scale * (dCond - dUncond);
          v[e] = out[size + e] + scale * (out[e] - out[size + e]);
        } else {
          d[e] = dCond;
          v[e] = out[e];
        }
      }
      return { d, v };
    },
  };
}

function checkSteps(numSteps: number): void {
  if (!Number.isInteger(numSteps) || numSteps < 1) {
    throw new DitError(`REPA sampling with ${numSteps} steps is invalid; it needs a positive integer`);
  }
}

/** Reports a step: the kept images and the data they point to, x − t·v. */
function report(options: FlowSamplerOptions, i: number, t: number, x: Float64Array, v: Float64Array): void {
  options.onStep?.({ i, numSteps: options.numSteps, t, x: Float32Array.from(x), x0: Float32Array.from(x, (xe, e) => xe - t * v[e]) });
}

/** REPA's euler_maruyama_sampler: num_steps − 1 stochastic steps from t = 1 to 0.04, then the mean step to 0. */
export async function sampleRepaSde(options: FlowSamplerOptions): Promise<Float32Array> {
  checkSteps(options.numSteps);
  const rng = options.rng;
  if (rng === undefined) throw new DitError('the REPA SDE sampler draws noise every step; pass rng (createTorchGenerator(seed))');
  const model = repaModel(options);
  const steps = [...torchLinspace(1, 0.04, options.numSteps, 'float64'), 0];
  let x = Float64Array.from(options.x);
  for (let i = 0; i + 1 < steps.length; i++) {
    options.signal?.throwIfAborted();
    const tCur = steps[i];
    const dt = steps[i + 1] - tCur;
    const last = i + 2 === steps.length;
    const diffusion = 2 * tCur;
    const deps = last ? undefined : rng.randnDouble(x.length).map((eps) => eps * Math.sqrt(Math.abs(dt)));
    // get_score_from_velocity (linear): α = 1 − t, α' = −1, σ = t, σ' = 1.
    const ratio = (1 - tCur) / -1;
    const variance = tCur * tCur - ratio * 1 * tCur;
    const halfW = 0.5 * diffusion;
    const { d, v } = await model.drift(x, tCur, tCur, (ve, xe) => ve - halfW * ((ratio * ve - xe) / variance));
    const noise = Math.sqrt(diffusion);
    x = deps === undefined ? x.map((xe, e) => xe + dt * d[e]) : x.map((xe, e) => xe + d[e] * dt + noise * deps[e]);
    report(options, i, steps[i + 1], x, v);
  }
  return Float32Array.from(x);
}

/** REPA's euler_sampler (heun = false) and its Heun form. */
async function sampleRepaOde(options: FlowSamplerOptions, heun: boolean): Promise<Float32Array> {
  checkSteps(options.numSteps);
  const model = repaModel(options);
  const steps = torchLinspace(1, 0, options.numSteps + 1, 'float64');
  const velocity = (ve: number): number => ve;
  let x = Float64Array.from(options.x);
  for (let i = 0; i < options.numSteps; i++) {
    options.signal?.throwIfAborted();
    const [tCur, tNext] = [steps[i], steps[i + 1]];
    const { d } = await model.drift(x, tCur, tCur, velocity);
    let next = x.map((xe, e) => xe + (tNext - tCur) * d[e]);
    if (heun && i < options.numSteps - 1) {
      // The second evaluation, at t_next, is guided when the step's START is inside the interval.
      const { d: dPrime } = await model.drift(next, tNext, tCur, velocity);
      next = x.map((xe, e) => xe + (tNext - tCur) * (0.5 * d[e] + 0.5 * dPrime[e]));
    }
    x = next;
    report(options, i, tNext, x, d);
  }
  return Float32Array.from(x);
}

export const sampleRepaOdeEuler = (options: FlowSamplerOptions): Promise<Float32Array> => sampleRepaOde(options, false);
export const sampleRepaOdeHeun = (options: FlowSamplerOptions): Promise<Float32Array> => sampleRepaOde(options, true);
