import { describe, expect, it } from 'vitest';
import { decodeTiled } from '../../src/runtime/vae-tiles.js';
import type { ImageBatch } from '../../src/image/grid.js';

/** A stand-in decoder: (N, 2, h, w) latents holding global (y, x) → (N, 2, h·u, w·u) pixels holding global pixel (y, x). */
function positionDecoder(u: number) {
  const calls: number[][] = [];
  const decode = async (lat: Float32Array, [n, c, h, w]: readonly [number, number, number, number]): Promise<ImageBatch> => {
    calls.push([h, w]);
    const H = h * u;
    const W = w * u;
    const out = new Float32Array(n * c * H * W);
    for (let b = 0; b < n; b++)
      for (let ch = 0; ch < 2; ch++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++) {
            const base = lat[((b * c + ch) * h + Math.floor(y / u)) * w + Math.floor(x / u)];
            out[((b * c + ch) * H + y) * W + x] = base * u + (ch === 0 ? y % u : x % u);
          }
    return { data: out, shape: [n, c, H, W] };
  };
  return { decode, calls };
}

/** A stand-in decoder returning, for each tile, the constant k = its call index. */
function constantPerTile() {
  let k = 0;
  return async (_lat: Float32Array, [n, , h, w]: readonly [number, number, number, number]): Promise<ImageBatch> => ({
    data: new Float32Array(n * h * w).fill(k++),
    shape: [n, 1, h, w],
  });
}

describe('tiled VAE decoding (diffusers tiled_decode layout)', () => {
  it('puts every pixel back at its place: tiles of 4 over a 10×7 latent, ×2 upscale, overlap 0.25', async () => {
    const [h, w, u] = [10, 7, 2];
    const latents = new Float32Array(2 * h * w);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        latents[y * w + x] = y;
        latents[h * w + y * w + x] = x;
      }
    const { decode, calls } = positionDecoder(u);
    const out = await decodeTiled(latents, [1, 2, h, w], u, decode, { latentTile: 4 });
    // stride floor(4·0.75) = 3: rows start at 0, 3, 6, 9 (heights 4, 4, 4, 1), columns at 0, 3, 6 (widths 4, 4, 1)
    expect(calls).toEqual([[4, 4], [4, 4], [4, 1], [4, 4], [4, 4], [4, 1], [4, 4], [4, 4], [4, 1], [1, 4], [1, 4], [1, 1]]);
    // tile image 8, blend 2, keep 6: heights 6 + 6 + 6 + 2 = 20, widths 6 + 6 + 2 = 14
    expect(out.shape).toEqual([1, 2, 20, 14]);
    for (let y = 0; y < 20; y++)
      for (let x = 0; x < 14; x++) {
        expect(out.data[y * 14 + x]).toBeCloseTo(y, 5);
        expect(out.data[280 + y * 14 + x]).toBeCloseTo(x, 5);
      }
  });

  it('cross-fades seams linearly, chaining blended tiles left to right', async () => {
    // tile 4, overlap 0.5, no upscale: stride 2, blend 2, keep 2; tiles at x = 0, 2, 4 hold 0, 1, 2.
    // tile 1 = [0·1 + 1·0, 0·½ + 1·½, 1, 1]; tile 2 = [1·1 + 2·0, 1·½ + 2·½]; crops of 2 side by side.
    const out = await decodeTiled(new Float32Array(6), [1, 1, 1, 6], 1, constantPerTile(), { latentTile: 4, overlap: 0.5 });
    expect(out.shape).toEqual([1, 1, 1, 6]);
    expect([...out.data]).toEqual([0, 0, 0, 0.5, 1, 1.5]);
  });

  it('cross-fades seams top to bottom the same way', async () => {
    const out = await decodeTiled(new Float32Array(6), [1, 1, 6, 1], 1, constantPerTile(), { latentTile: 4, overlap: 0.5 });
    expect(out.shape).toEqual([1, 1, 6, 1]);
    expect([...out.data]).toEqual([0, 0, 0, 0.5, 1, 1.5]);
  });

  it('rejects a tile too small to make progress, naming it', async () => {
    await expect(decodeTiled(new Float32Array(4), [1, 1, 2, 2], 1, constantPerTile(), { latentTile: 1 })).rejects.toThrow(/VAE tile 1 must be a whole number/);
    await expect(decodeTiled(new Float32Array(4), [1, 1, 2, 2], 1, constantPerTile(), { latentTile: 4, overlap: 1 })).rejects.toThrow(/overlap 1 must be in \[0, 1\)/);
  });
});
