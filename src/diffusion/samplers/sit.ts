/**
 * SiT's samplers (willisma/SiT, transport/ with create_transport("Linear", "velocity")): the
 * interpolant x_t = t·x1 + (1 − t)·x0, x1 data, t from 0 (noise) to 1; the network predicts the
 * velocity dx_t/dt.
 *
 * - ODE (sample_ode): torchdiffeq on linspace(0, 1, num_steps): `euler` and `heun2` on that fixed
 *   grid (num_steps − 1 steps), `dopri5` adaptive (num_steps is then only the number of output
 *   times; see dopri5.ts).
 * - SDE (sample_sde, diffusion_form "sigma", norm 1): dx = [v + w(t)·s(x, t)]dt + √(2w(t))dW with
 *   w(t) = 1 − t and the score s = (t·v − x)/(1 − t) derived from the velocity; Euler–Maruyama or
 *   Heun on linspace(0, 1 − last_step_size, num_steps), then the last step (default "Mean": one
 *   drift step of last_step_size without noise).
 *
 * Like sample.py, the state is the model batch: [z, z] under guidance (forward_with_cfg guides the
 * first half's input and writes the guided channels into both halves; the other channels stay per
 * half), so every SDE draw covers 2N images and dopri5's error norm sees both halves. Arithmetic is
 * float32 in PyTorch's order of operations.
 */
import { assert, DitError } from '../../errors.js';
import { combineGuidance, guidedChannelCount } from '../guidance.js';
import { SIT_LAST_STEPS, torchLinspace, type FlowSamplerOptions, type SitLastStep } from '../flow.js';
import { odeintDopri5 } from './dopri5.js';

const f32 = Math.fround;

interface SitModel {
  readonly n: number; // images kept
  readonly batch: number; // images in the state: 2N under guidance
  readonly imageSize: number;
  /** The velocity of the whole state at float32 time t (forward_with_cfg or forward). */
  velocity(x: Float32Array, t: number): Promise<Float32Array>;
}

function sitModel(options: FlowSamplerOptions): SitModel {
  const [n, channels, height, width] = options.shape;
  const { form, scale } = options.guidance;
  assert(options.guidance.interval === undefined, 'SiT has no guidance interval (that is REPA)');
  assert(options.labels.length === n, () => `${options.labels.length} labels for ${n} images`);
  const imageSize = channels * height * width;
  assert(options.x.length === n * imageSize, () => `initial noise has ${options.x.length} values, (${options.shape.join(', ')}) needs ${n * imageSize}`);
  const labels = Int32Array.from(options.labels);
  const checked = (out: Float32Array, batch: number, t: number): Float32Array => {
    if (out.length !== batch * imageSize) {
      throw new DitError(`model returned ${out.length} values at t = ${t}; expected ${batch} × ${imageSize} (velocity channels only)`);
    }
    return out;
  };
  if (form === 'off') {
    return { n, batch: n, imageSize, velocity: async (x, t) => checked(await options.forward(x, new Float32Array(n).fill(t), labels, n), n, t) };
  }
  const doubledLabels = new Int32Array(2 * n);
  doubledLabels.set(labels);
  doubledLabels.fill(options.nullClass, n);
  const guided = guidedChannelCount(form, channels, channels);
  const planeSize = height * width;
  const always = new Array<boolean>(n).fill(true);
  return {
    n,
    batch: 2 * n,
    imageSize,
    async velocity(x, t) {
      // forward_with_cfg: half = x[:N]; the model sees [half, half] with [y, null].
      const half = x.subarray(0, n * imageSize);
      const combined = new Float32Array(2 * n * imageSize);
      combined.set(half);
      combined.set(half, n * imageSize);
      const out = checked(await options.forward(combined, new Float32Array(2 * n).fill(t), doubledLabels, 2 * n), 2 * n, t);
      const first = combineGuidance(out, n, channels, planeSize, guided, scale, always);
      const result = Float32Array.from(out);
      result.set(first);
      // The second half gets the same guided channels and keeps its own (unconditional) rest.
      for (let b = 0; b < n; b++) {
        result.set(first.subarray(b * imageSize, b * imageSize + guided * planeSize), (n + b) * imageSize);
      }
      return result;
    },
  };
}

/** The state doubled as sample.py builds it: [z, z] under guidance, z otherwise. */
function initialState(options: FlowSamplerOptions, model: SitModel): Float32Array {
  const state = new Float32Array(model.batch * model.imageSize);
  for (let b = 0; b < model.batch; b += model.n) state.set(options.x, b * model.imageSize);
  return state;
}

/** Reports a step with the kept images and the data they point to: x1 = x + (1 − t)·v. */
function report(options: FlowSamplerOptions, model: SitModel, i: number, t: number, x: Float32Array, v: Float32Array | undefined): void {
  if (!options.onStep) return;
  const kept = x.slice(0, model.n * model.imageSize);
  const x0 = v === undefined ? kept : kept.map((xe, e) => xe + (1 - t) * v[e]);
  options.onStep({ i, numSteps: options.numSteps, t, x: kept, x0 });
}

function checkSteps(numSteps: number, least: number): void {
  if (!Number.isInteger(numSteps) || numSteps < least) {
    throw new DitError(`SiT sampling with ${numSteps} steps is invalid; it needs an integer ≥ ${least} (num_steps counts grid points, as in SiT's sample.py)`);
  }
}

type FixedMethod = 'euler' | 'heun2';

/** torchdiffeq's fixed-grid Euler or Heun2 over linspace(0, 1, num_steps), as SiT's sample_ode. */
async function sampleSitOdeFixed(options: FlowSamplerOptions, method: FixedMethod): Promise<Float32Array> {
  checkSteps(options.numSteps, 2);
  const model = sitModel(options);
  const grid = torchLinspace(0, 1, options.numSteps, 'float32');
  let y = initialState(options, model);
  for (let i = 0; i + 1 < grid.length; i++) {
    options.signal?.throwIfAborted();
    const t0 = grid[i];
    const dt = f32(grid[i + 1] - t0);
    const k1 = await model.velocity(y, t0);
    let dy: Float32Array;
    if (method === 'euler') {
      dy = k1.map((k) => f32(dt * k));
    } else {
      const yMid = y.map((ye, e) => f32(ye + f32(f32(dt * k1[e]) * 1)));
      const k2 = await model.velocity(yMid, f32(t0 + f32(dt * 1)));
      dy = k1.map((k, e) => f32(dt * f32(f32(k * 0.5) + f32(k2[e] * 0.5))));
    }
    y = y.map((ye, e) => f32(ye + dy[e]));
    report(options, model, i, grid[i + 1], y, k1);
  }
  return y.slice(0, model.n * model.imageSize);
}

export const sampleSitOdeEuler = (options: FlowSamplerOptions): Promise<Float32Array> => sampleSitOdeFixed(options, 'euler');
export const sampleSitOdeHeun = (options: FlowSamplerOptions): Promise<Float32Array> => sampleSitOdeFixed(options, 'heun2');

/** torchdiffeq's dopri5 over linspace(0, 1, num_steps) with sample.py's atol 1e-6, rtol 1e-3. */
export async function sampleSitOdeDopri5(options: FlowSamplerOptions): Promise<Float32Array> {
  checkSteps(options.numSteps, 2);
  const model = sitModel(options);
  const grid = torchLinspace(0, 1, options.numSteps, 'float32');
  const ys = await odeintDopri5((t, y) => model.velocity(y, t), initialState(options, model), grid, {
    atol: options.atol ?? 1e-6,
    rtol: options.rtol ?? 1e-3,
    signal: options.signal,
    onOutput: (i, t, y) => report(options, model, i - 1, t, y, undefined),
  });
  return ys[ys.length - 1].slice(0, model.n * model.imageSize);
}

/** One SDE drift v + w·s with w = 1 − t ("sigma" form, norm 1) and s the score from v. */
function sdeDrift(x: Float32Array, v: Float32Array, t: number): Float32Array {
  const w = f32(1 * f32(1 - t));
  const sigma = f32(1 - t);
  const variance = f32(f32(sigma * sigma) - f32(f32(t * -1) * sigma));
  return x.map((xe, e) => {
    const score = f32(f32(f32(t * v[e]) - xe) / variance);
    return f32(v[e] + f32(w * score));
  });
}

/** SiT's SDE sampler: Euler–Maruyama or Heun, then the last step. */
async function sampleSitSde(options: FlowSamplerOptions, method: 'euler' | 'heun'): Promise<Float32Array> {
  checkSteps(options.numSteps, 2);
  const lastStep: SitLastStep = options.lastStep ?? 'mean';
  assert(SIT_LAST_STEPS.includes(lastStep), () => `SiT last step '${lastStep}' is unknown; use one of ${SIT_LAST_STEPS.join(', ')}`);
  const lastStepSize = lastStep === 'none' ? 0 : (options.lastStepSize ?? 0.04);
  assert(lastStepSize >= 0 && lastStepSize < 1, () => `SiT last step size ${lastStepSize} must be in [0, 1)`);
  const rng = options.rng;
  if (rng === undefined) throw new DitError('the SiT SDE samplers draw noise every step; pass rng (createTorchGenerator(seed))');
  const model = sitModel(options);
  // check_interval: the SDE stops at 1 − last_step_size (at 1 when there is no last step).
  const tEnd = lastStepSize === 0 ? 1 : 1 - lastStepSize;
  const grid = torchLinspace(0, tEnd, options.numSteps, 'float32');
  const dt = f32(grid[1] - grid[0]);
  const sqrtDt = f32(Math.sqrt(dt));
  let x = initialState(options, model);

  for (let i = 0; i + 1 < grid.length; i++) {
    options.signal?.throwIfAborted();
    const t = grid[i];
    const dw = rng.randn(x.length).map((w) => f32(w * sqrtDt));
    const noiseScale = f32(Math.sqrt(f32(2 * f32(1 * f32(1 - t)))));
    let v: Float32Array;
    if (method === 'euler') {
      v = await model.velocity(x, t);
      const drift = sdeDrift(x, v, t);
      x = x.map((xe, e) => f32(f32(xe + f32(drift[e] * dt)) + f32(noiseScale * dw[e])));
    } else {
      const xHat = x.map((xe, e) => f32(xe + f32(noiseScale * dw[e])));
      v = await model.velocity(xHat, t);
      const k1 = sdeDrift(xHat, v, t);
      const xp = xHat.map((xe, e) => f32(xe + f32(dt * k1[e])));
      const t2 = f32(t + dt);
      const k2 = sdeDrift(xp, await model.velocity(xp, t2), t2);
      const halfDt = f32(0.5 * dt);
      x = xHat.map((xe, e) => f32(xe + f32(halfDt * f32(k1[e] + k2[e]))));
    }
    report(options, model, i, grid[i + 1], x, v);
  }

  // The last step from t1 = 1 − last_step_size.
  const t1 = f32(tEnd);
  if (lastStep !== 'none') {
    options.signal?.throwIfAborted();
    const v = await model.velocity(x, t1);
    const size = f32(lastStepSize);
    if (lastStep === 'mean') {
      const drift = sdeDrift(x, v, t1);
      x = x.map((xe, e) => f32(xe + f32(drift[e] * size)));
    } else if (lastStep === 'euler') {
      x = x.map((xe, e) => f32(xe + f32(v[e] * size)));
    } else {
      // Tweedie: x/α + σ²/α·s with α = t, σ = 1 − t.
      const sigma = f32(1 - t1);
      const coef = f32(f32(sigma * sigma) / t1);
      const variance = f32(f32(sigma * sigma) - f32(f32(t1 * -1) * sigma));
      x = x.map((xe, e) => f32(f32(xe / t1) + f32(coef * f32(f32(f32(t1 * v[e]) - xe) / variance))));
    }
    report(options, model, grid.length - 1, 1, x, undefined);
  }
  return x.slice(0, model.n * model.imageSize);
}

export const sampleSitSdeEuler = (options: FlowSamplerOptions): Promise<Float32Array> => sampleSitSde(options, 'euler');
export const sampleSitSdeHeun = (options: FlowSamplerOptions): Promise<Float32Array> => sampleSitSde(options, 'heun');
