/**
 * What the flow-matching samplers (SiT, REPA) share: their options, PyTorch's CPU `linspace` (the
 * time grids), and float32 helpers. The networks are DiT's, trained to predict a velocity on a
 * linear interpolant between noise and data; time is continuous and fed to DiT's timestep embedder.
 */
import { assert } from '../errors.js';
import type { GuidanceForm } from './guidance.js';
import type { NoiseSource } from './random.js';
import type { LatentShape, SamplerStep } from './types.js';

/**
 * The raw velocity network, `model.forward(x, t, y)` with the learned-sigma half (SiT) already
 * dropped: x (B, C, H, W), t (B) continuous times, y (B) labels (num_classes = null) → (B, C, H, W).
 */
export type VelocityModelFn = (x: Float32Array, t: Float32Array, y: Int32Array, batch: number) => Promise<Float32Array>;

/**
 * Classifier-free guidance as each family's code does it. SiT (forward_with_cfg): form `dit`
 * guides channels 0..2 only, `all` every channel, `off` runs model.forward on the undoubled batch
 * (sample_ddp.py at cfg 1). REPA: every channel, only when scale > 1 and lo ≤ t ≤ hi (t = 1 noise).
 */
export interface FlowGuidance {
  readonly form: GuidanceForm;
  readonly scale: number;
  readonly interval?: readonly [lo: number, hi: number]; // REPA only: guidance_low, guidance_high
}

/** SiT's SDE last step (transport.py `__get_last_step`): none = identity, with its grid ending at t = 1. */
export type SitLastStep = 'mean' | 'tweedie' | 'euler' | 'none';
export const SIT_LAST_STEPS: readonly SitLastStep[] = ['mean', 'tweedie', 'euler', 'none'];

export interface FlowSamplerOptions {
  readonly forward: VelocityModelFn;
  readonly labels: ArrayLike<number>; // (N) class ids
  readonly nullClass: number; // num_classes
  readonly x: Float32Array; // (N, C, H, W) initial noise z; not modified
  readonly shape: LatentShape;
  readonly numSteps: number; // the official num_steps / num-sampling-steps
  readonly guidance: FlowGuidance;
  /** Required by the stochastic samplers (sit-sde-*, repa-sde): every step's randn draw. */
  readonly rng?: NoiseSource;
  readonly atol?: number; // sit-ode-dopri5; default 1e-6 (sample.py)
  readonly rtol?: number; // sit-ode-dopri5; default 1e-3 (sample.py)
  readonly lastStep?: SitLastStep; // sit-sde-*; default mean
  readonly lastStepSize?: number; // sit-sde-*; default 0.04
  /** After each step (dopri5: each requested time point): the kept images and their predicted data. */
  readonly onStep?: (step: SamplerStep) => void;
  readonly signal?: AbortSignal;
}

/** Every flow sampler: noise in, final latents (N, C, H, W) out. */
export type FlowSampler = (options: FlowSamplerOptions) => Promise<Float32Array>;

const f32 = Math.fround;
const f32Bits = new Float32Array(1);
const u32Bits = new Uint32Array(f32Bits.buffer);

/** torch.nextafter(t, t − 1) in float32: the largest float32 below t. */
export function nextDown32(t: number): number {
  f32Bits[0] = t;
  if (t === 0) return -(2 ** -149);
  u32Bits[0] += t > 0 ? -1 : 1;
  return f32Bits[0];
}

/**
 * `torch.linspace(start, end, steps)` on the CPU, value for value: step = (end − start)/(steps − 1)
 * in the dtype; the first half counts up from start and the second down from end, except that the
 * vectorised kernel (ATen RangeFactoriesKernel.cpp, AVX2: 8 floats or 4 doubles per vector, two
 * vectors per iteration) fills whole blocks as base + j·step from each vector's first index.
 */
export function torchLinspace(start: number, end: number, steps: number, dtype: 'float32' | 'float64'): number[] {
  assert(Number.isInteger(steps) && steps >= 1, () => `linspace steps ${steps} must be a positive integer`);
  const r = dtype === 'float32' ? f32 : (v: number) => v;
  const s0 = r(start);
  const s1 = r(end);
  if (steps === 1) return [s0];
  const step = r(r(s1 - s0) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const scalar = (idx: number): number => (idx < halfway ? r(s0 + r(step * idx)) : r(s1 - r(step * (steps - idx - 1))));
  const width = dtype === 'float32' ? 8 : 4;
  const out: number[] = [];
  let idx = 0;
  for (; idx + 2 * width <= steps; ) {
    for (let v = 0; v < 2; v++, idx += width) {
      const base = scalar(idx);
      for (let j = 0; j < width; j++) out.push(r(base + r(j * step)));
    }
  }
  for (; idx < steps; idx++) out.push(scalar(idx));
  return out;
}
