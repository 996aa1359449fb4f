/** What every sampler shares: option checks, the output layout (eps, then v channels), noise draws. */
import { DitError } from '../../errors.js';
import type { SamplerOptions } from '../types.js';

export interface SamplerLayout {
  readonly n: number;
  readonly imageSize: number; // C·H·W
  readonly size: number; // N·C·H·W
  readonly outChannels: number;
  readonly planeSize: number; // H·W
  readonly channels: number;
}

/** Validates the shared options before any work; returns the sizes the loops index with. */
export function layoutOf(options: SamplerOptions): SamplerLayout {
  const [n, channels, height, width] = options.shape;
  for (const [name, v] of [['n', n], ['channels', channels], ['height', height], ['width', width]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new DitError(`latent shape ${name} = ${v} is invalid; it must be a positive integer`);
  }
  const planeSize = height * width;
  const imageSize = channels * planeSize;
  const size = n * imageSize;
  if (options.x.length !== size) {
    throw new DitError(`initial noise has ${options.x.length} values; shape (${n}, ${channels}, ${height}, ${width}) needs ${size}`);
  }
  const noiseBatch = options.noiseBatch ?? n;
  if (!Number.isInteger(noiseBatch) || noiseBatch < n) {
    throw new DitError(`noise batch ${noiseBatch} is invalid; it must be an integer ≥ the ${n} images sampled (2N under CFG)`);
  }
  return { n, channels, planeSize, imageSize, size, outChannels: options.learnedSigma ? 2 * channels : channels };
}

/**
 * The steps from noise to clean, checking `signal` before each: i counts up from 0, k is the
 * respaced schedule index (numSteps − 1 down to 0), t the original timestep the model sees.
 */
export function* reverseSteps(options: SamplerOptions): Generator<{ i: number; k: number; t: number }> {
  const { schedule, signal } = options;
  for (let i = 0; i < schedule.numSteps; i++) {
    signal?.throwIfAborted();
    const k = schedule.numSteps - 1 - i;
    yield { i, k, t: schedule.timestepMap[k] };
  }
}

/** Runs the model and checks its output size against the announced channel layout. */
export async function runModel(options: SamplerOptions, layout: SamplerLayout, x: Float32Array, t: number): Promise<Float32Array> {
  const out = await options.model(x, new Int32Array(layout.n).fill(t));
  const expected = layout.n * layout.outChannels * layout.planeSize;
  if (out.length !== expected) {
    throw new DitError(
      `model returned ${out.length} values at t = ${t}; expected ${expected} ` +
        `(${layout.n} × ${layout.outChannels} channels × ${layout.planeSize}); ` +
        `learnedSigma is ${options.learnedSigma} — set it to match the model's output channels`,
    );
  }
  return out;
}

/** Index of element e of image-major (N, C, H, W) latents inside the (N, outC, H, W) output. */
export function outIndex(layout: SamplerLayout, e: number): number {
  const b = Math.floor(e / layout.imageSize);
  return e + b * (layout.outChannels - layout.channels) * layout.planeSize;
}

/**
 * One `randn_like(x)` of the whole model batch (noiseBatch images), of which the first N images'
 * values are used: the draw must still cover the full batch to keep the stream where PyTorch has it.
 */
export function drawStepNoise(options: SamplerOptions, layout: SamplerLayout): Float32Array {
  if (options.rng === undefined) throw new DitError('this sampler draws noise every step; pass `rng` (createTorchGenerator(seed))');
  const batch = options.noiseBatch ?? layout.n;
  return options.rng.randn(batch * layout.imageSize).subarray(0, layout.size);
}
