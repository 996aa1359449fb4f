/** The contract between the pipeline, guidance and the samplers. */
import type { NoiseSource } from './random.js';
import type { DiffusionSchedule } from './schedule.js';

/** A latent batch's shape (N, C, H, W); the data is float32 in C order. */
export type LatentShape = readonly [n: number, channels: number, height: number, width: number];

/**
 * The raw class-conditional network, `model.forward(x, t, y)`: x (B, C, H, W), t (B) original
 * timesteps 0 … 999, y (B) class ids where num_classes is the null (unconditional) label; batch = B.
 * Returns (B, outC, H, W): C eps channels, then C variance-interpolation channels when the model
 * learns sigma (outC = 2C).
 */
export type ConditionalModelFn = (x: Float32Array, t: Int32Array, y: Int32Array, batch: number) => Promise<Float32Array>;

/**
 * What a sampler calls: the network with labels and guidance folded in (see guidance.ts).
 * x (N, C, H, W), t (N) ORIGINAL timesteps → (N, outC, H, W), laid out as ConditionalModelFn's.
 */
export type ModelFn = (x: Float32Array, t: Int32Array) => Promise<Float32Array>;

/**
 * DDPM's reverse-step variance (ModelVarType in facebookresearch/DiT diffusion/gaussian_diffusion.py): `learned-range` interpolates
 * log β̃ … log β with the model's v channels; `fixed-small` is β̃, `fixed-large` β (models without
 * learned sigma; create_diffusion's default for them is fixed-large).
 */
export type VarianceType = 'learned-range' | 'fixed-small' | 'fixed-large';

/** Reported once per step, after it: the new sample and the x0 the model predicted on the way. */
export interface SamplerStep {
  readonly i: number; // 0 … numSteps − 1
  readonly numSteps: number;
  readonly t: number; // original timestep the model saw at this step
  readonly x: Float32Array; // (N, C, H, W) sample after the step
  readonly x0: Float32Array; // (N, C, H, W) predicted clean latents
}

/** One options object for every sampler; a sampler ignores what it does not use. */
export interface SamplerOptions {
  readonly model: ModelFn;
  readonly x: Float32Array; // (N, C, H, W) initial x_T (the pipeline's z); not modified
  readonly shape: LatentShape;
  readonly schedule: DiffusionSchedule;
  readonly learnedSigma: boolean; // model output has 2C channels (eps, then v)
  /**
   * Source of the per-step `randn_like(x)` draws of ddpm and ddim (ddim draws even at eta 0, like
   * the official loop, so the stream stays in step). Required by ddpm and by ddim with eta > 0.
   */
  readonly rng?: NoiseSource;
  /**
   * Images per noise draw. The official loops draw for the whole model batch: 2N under CFG (the
   * doubled batch), N without; only the first N images' noise is used. Default N.
   */
  readonly noiseBatch?: number;
  readonly variance?: VarianceType; // ddpm; default learned-range when learnedSigma, else fixed-large
  readonly eta?: number; // ddim; 0 (default) is deterministic
  readonly onStep?: (step: SamplerStep) => void;
  readonly signal?: AbortSignal; // checked before every step
}

/** Every sampler: noise in, final latents (N, C, H, W) out. */
export type Sampler = (options: SamplerOptions) => Promise<Float32Array>;
