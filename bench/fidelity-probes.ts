/**
 * What the fidelity scripts (bench/fidelity.ts, bench/q8-fidelity.ts) measure a precision with:
 * one forward at each probe timestep on fixed inputs, and the PSNR of images in [-1, 1].
 */
import { createTorchGenerator } from '../src/diffusion/random.js';
import type { DiTSession } from '../src/runtime/index.js';

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
