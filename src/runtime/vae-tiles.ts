/**
 * Tiled VAE decoding with blended seams, as diffusers' `AutoencoderKL.tiled_decode` does it: the
 * latent is cut into overlapping tiles (stride = tile·(1 − overlap)), each tile is decoded on its
 * own, each tile's top and left `blend` image rows/columns are cross-faded linearly with the
 * neighbour above / to the left (in place, in raster order), and each tile is cropped to
 * tile − blend before the pieces are joined. Peak memory then follows the tile, not the image.
 * The result differs slightly from a whole decode (GroupNorm statistics and attention are per tile).
 */
import { assert } from '../errors.js';

export interface TileOptions {
  /** Latent tile side; diffusers uses sample_size / 8 (32 for the SD VAEs). */
  readonly latentTile: number;
  /** Share of a tile overlapping its neighbour; diffusers' default 0.25. */
  readonly overlap?: number;
}

type Shape4 = readonly [number, number, number, number];
/** Images (N, C, H, W) as float32. */
export interface FloatBatch {
  readonly data: Float32Array;
  readonly shape: Shape4;
}
type DecodeTile = (latents: Float32Array, shape: Shape4) => Promise<FloatBatch>;

interface Tile {
  data: Float32Array;
  h: number;
  w: number;
}

const f32 = Math.fround;

/** Copies latents[:, :, y0:y0+th, x0:x0+tw]. */
function cropLatents(latents: Float32Array, [n, c, h, w]: Shape4, y0: number, x0: number, th: number, tw: number): Float32Array {
  const out = new Float32Array(n * c * th * tw);
  for (let p = 0; p < n * c; p++) {
    for (let y = 0; y < th; y++) {
      const src = (p * h + y0 + y) * w + x0;
      out.set(latents.subarray(src, src + tw), (p * th + y) * tw);
    }
  }
  return out;
}

/** b[..., y, :] = a[..., a.h − extent + y, :]·(1 − y/extent) + b[..., y, :]·(y/extent), in place. */
function blendVertical(a: Tile, b: Tile, planes: number, blend: number): void {
  const extent = Math.min(a.h, b.h, blend);
  for (let y = 0; y < extent; y++) {
    const wb = f32(y / extent);
    const wa = f32(1 - y / extent);
    for (let p = 0; p < planes; p++) {
      const ra = (p * a.h + a.h - extent + y) * a.w;
      const rb = (p * b.h + y) * b.w;
      for (let x = 0; x < b.w; x++) b.data[rb + x] = f32(f32(a.data[ra + x] * wa) + f32(b.data[rb + x] * wb));
    }
  }
}

/** b[..., :, x] = a[..., :, a.w − extent + x]·(1 − x/extent) + b[..., :, x]·(x/extent), in place. */
function blendHorizontal(a: Tile, b: Tile, planes: number, blend: number): void {
  const extent = Math.min(a.w, b.w, blend);
  for (let x = 0; x < extent; x++) {
    const wb = f32(x / extent);
    const wa = f32(1 - x / extent);
    for (let p = 0; p < planes; p++) {
      for (let y = 0; y < b.h; y++) {
        const ia = (p * a.h + y) * a.w + a.w - extent + x;
        const ib = (p * b.h + y) * b.w + x;
        b.data[ib] = f32(f32(a.data[ia] * wa) + f32(b.data[ib] * wb));
      }
    }
  }
}

/** Decodes `latents` tile by tile through `decodeTile`; `upscale` is the VAE's image/latent size ratio. */
export async function decodeTiled(latents: Float32Array, shape: Shape4, upscale: number, decodeTile: DecodeTile, options: TileOptions): Promise<FloatBatch> {
  const [n, c, h, w] = shape;
  const tile = options.latentTile;
  const overlap = options.overlap ?? 0.25;
  assert(Number.isInteger(tile) && tile >= 2, () => `VAE tile ${tile} must be a whole number of latent pixels ≥ 2 (e.g. 32 for 256-pixel tiles)`);
  assert(overlap >= 0 && overlap < 1, () => `VAE tile overlap ${overlap} must be in [0, 1), e.g. 0.25`);
  const stride = Math.floor(tile * (1 - overlap));
  const tileImage = tile * upscale;
  const blend = Math.floor(tileImage * overlap);
  const keep = tileImage - blend;
  assert(stride >= 1, () => `VAE tile ${tile} with overlap ${overlap} leaves no stride; lower the overlap or enlarge the tile`);

  const rows: Tile[][] = [];
  let outChannels = 0;
  for (let y0 = 0; y0 < h; y0 += stride) {
    const row: Tile[] = [];
    for (let x0 = 0; x0 < w; x0 += stride) {
      const th = Math.min(tile, h - y0);
      const tw = Math.min(tile, w - x0);
      const decoded = await decodeTile(cropLatents(latents, shape, y0, x0, th, tw), [n, c, th, tw]);
      outChannels = decoded.shape[1];
      row.push({ data: decoded.data, h: decoded.shape[2], w: decoded.shape[3] });
    }
    rows.push(row);
  }
  const planes = n * outChannels;
  rows.forEach((row, i) =>
    row.forEach((t, j) => {
      if (i > 0) blendVertical(rows[i - 1][j], t, planes, blend);
      if (j > 0) blendHorizontal(row[j - 1], t, planes, blend);
    }),
  );

  const heights = rows.map((row) => Math.min(row[0].h, keep));
  const widths = rows[0].map((t) => Math.min(t.w, keep));
  const outH = heights.reduce((a, b) => a + b, 0);
  const outW = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(planes * outH * outW);
  let top = 0;
  rows.forEach((row, i) => {
    let left = 0;
    row.forEach((t, j) => {
      for (let p = 0; p < planes; p++) {
        for (let y = 0; y < heights[i]; y++) {
          const src = (p * t.h + y) * t.w;
          out.set(t.data.subarray(src, src + widths[j]), (p * outH + top + y) * outW + left);
        }
      }
      left += widths[j];
    });
    top += heights[i];
  });
  return { data: out, shape: [n, outChannels, outH, outW] };
}
