/**
 * What the fidelity scripts (bench/fidelity.ts, bench/q8-fidelity.ts) measure a precision with:
 * one forward at each probe timestep on fixed inputs, the same guided images, and the PSNR of images
 * in [-1, 1].
 */
import { createTorchGenerator } from '../src/diffusion/random.js';
import { createSchedule } from '../src/diffusion/schedule.js';
import { guidedModel } from '../src/diffusion/guidance.js';
import { SAMPLER_FUNCTIONS } from '../src/diffusion/samplers/index.js';
import { ditOutChannels } from '../src/models/dit.js';
import type { DiTSession } from '../src/runtime/index.js';
import type { DiTConfig } from '../src/models/dit-config.js';

/** The timesteps a forward is probed at. */
export const PROBE_TIMESTEPS = [0, 250, 500, 750, 999] as const;

/** Outputs of one forward at each probe timestep: 4 images of seed-7 noise, labels 0, 1, the last class and the null class. */
export async function probeForwards(s: DiTSession): Promise<Float32Array[]> {
  const c = s.config;
  const batch = 4;
  const x = createTorchGenerator(7).randn(batch * c.in_channels * c.input_size ** 2);
  const labels = [0, 1, c.num_classes - 1, c.num_classes];
  const outs: Float32Array[] = [];
  for (const t of PROBE_TIMESTEPS) outs.push(await s.run(x, new Array<number>(batch).fill(t), labels, batch));
  return outs;
}

/** PSNR in dB of two images with values clamped to [-1, 1] (peak-to-peak 2); Infinity when equal. */
export function psnr(a: Float32Array, b: Float32Array): number {
  const c = (v: number) => Math.max(-1, Math.min(1, v));
  let mse = 0;
  for (let i = 0; i < a.length; i++) mse += (c(a[i]!) - c(b[i]!)) ** 2;
  mse /= a.length;
  return mse === 0 ? Infinity : 10 * Math.log10(4 / mse);
}

/**
 * `count` images (pixel space), seeds firstSeed, firstSeed + 1, …, label = seed mod classes, in
 * batches of `batchSize`, guided with scale `cfg`. DDPM draws each step's noise for the whole batch
 * from one generator, so an image's DDPM noise depends on its batch: runs compared image by image
 * must use the same batch size (the initial noise, and so DDIM, does not depend on it).
 */
export async function sample(s: DiTSession, sampler: 'ddim' | 'ddpm', steps: number, count: number, firstSeed: number, cfg: number, batchSize = 16): Promise<{ images: Float32Array[]; labels: number[] }> {
  const c = s.config;
  const per = c.in_channels * c.input_size ** 2;
  const out: Float32Array[] = [];
  const labels: number[] = [];
  for (let first = 0; first < count; first += batchSize) {
    const n = Math.min(batchSize, count - first);
    const ls = Array.from({ length: n }, (_, i) => (firstSeed + first + i) % c.num_classes);
    const shape = [n, c.in_channels, c.input_size, c.input_size] as const;
    // One generator per batch, seeded by its first image, shared by the initial noise and DDPM's steps.
    const rng = createTorchGenerator(firstSeed + first);
    const z = rng.randn(n * per);
    const model = guidedModel({ forward: (x, t, y, b) => s.run(x, t, y, b), labels: ls, nullClass: c.num_classes, form: 'all', scale: cfg, inChannels: c.in_channels, outChannels: ditOutChannels(c), sampleShape: shape });
    const x = await SAMPLER_FUNCTIONS[sampler]({ model, x: z, shape, schedule: createSchedule(steps, 'uniform'), rng, noiseBatch: model.noiseBatch, learnedSigma: c.learn_sigma, eta: 0 });
    for (let i = 0; i < n; i++) out.push(x.slice(i * per, (i + 1) * per));
    labels.push(...ls);
  }
  return { images: out, labels };
}

/** The DiT-XL/2-256 probe of fidelity.ts and q4.ts: batch 2, seeded noise, t 0 and 397, a class and the null class. */
export function xlProbeFeeds(config: DiTConfig) {
  const S = config.input_size;
  const batch = 2;
  return {
    x: { type: 'float32' as const, data: createTorchGenerator(5).randn(batch * config.in_channels * S * S), dims: [batch, config.in_channels, S, S] },
    t: { type: 'float32' as const, data: Float32Array.from([0, 397]), dims: [batch] },
    y: { type: 'int64' as const, data: BigInt64Array.from([1n, BigInt(config.num_classes)]), dims: [batch] },
  };
}
