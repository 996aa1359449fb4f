/** The VAE decoder as a session: latents (N, 4, h, w) → images (N, 3, 8h, 8w). */
import type { ImageBatch } from './image/grid.js';
import { DitError } from './errors.js';

export interface VaeSession {
  decode(latents: Float32Array, shape: readonly [number, number, number, number]): Promise<ImageBatch>;
  release(): Promise<void>;
}

export async function createVaeSession(_path: string, _opts: { device: string; threads?: number; cacheDir?: string }): Promise<VaeSession> {
  throw new DitError('VAE decoding is not wired yet');
}
