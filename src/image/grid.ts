/**
 * The image grid exactly as torchvision's `save_image(x, nrow, normalize=True, value_range=(-1, 1))`
 * writes it (docs/REFERENCE.md §7), byte for byte: DiT users compare our PNGs with theirs.
 */
import { InternalError } from '../errors.js';

/** An 8-bit RGB image, rows top to bottom, pixels interleaved (R, G, B). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array; // (height, width, 3)
}

/** A float batch in PyTorch layout. */
export interface ImageBatch {
  readonly data: Float32Array; // (N, C, H, W)
  readonly shape: readonly [number, number, number, number];
}

export interface GridOptions {
  /** Images per grid row (torchvision's `nrow`, DiT's `samples_per_row`); default 4 as in the notebook. */
  readonly samplesPerRow?: number;
  /** Black border around and between images, in pixels; torchvision's default is 2. */
  readonly padding?: number;
}

const f32 = Math.fround;

/**
 * One float in [-1, 1] to a byte, with torchvision's float32 arithmetic step by step: clamp,
 * `sub_(-1)`, `div_(2)`, `mul(255)`, `add_(0.5)`, clamp to [0, 255], truncate. Each step rounds to
 * float32, which decides the byte on values that land near a .5 boundary.
 */
export function toByte(x: number): number {
  if (Number.isNaN(x)) return 0; // torch's NaN→uint8 cast is undefined; black is the honest choice
  const clamped = x < -1 ? -1 : x > 1 ? 1 : x;
  const unit = f32(f32(clamped + 1) / 2);
  const scaled = f32(f32(unit * 255) + 0.5);
  return Math.trunc(scaled < 0 ? 0 : scaled > 255 ? 255 : scaled);
}

/** Validates a batch shape and returns it as numbers; C must be 1 (repeated to RGB) or 3. */
function checkBatch(batch: ImageBatch): [number, number, number, number] {
  const [n, c, h, w] = batch.shape;
  if (batch.shape.length !== 4 || !(n >= 1) || !(h >= 1) || !(w >= 1)) {
    throw new InternalError(`image batch shape [${batch.shape.join(', ')}] must be (N, C, H, W) with N, H, W ≥ 1`);
  }
  if (c !== 1 && c !== 3) {
    throw new InternalError(`image batch has ${c} channels; allowed: 1 (grey, repeated to RGB) or 3 (RGB)`);
  }
  if (batch.data.length !== n * c * h * w) {
    throw new InternalError(`image batch holds ${batch.data.length} values but shape [${n}, ${c}, ${h}, ${w}] needs ${n * c * h * w}`);
  }
  return [n, c, h, w];
}

/** Copies image `index` of the batch, converted to bytes, onto `out` with its top-left corner at (x0, y0). */
function blit(batch: ImageBatch, index: number, out: RgbImage, x0: number, y0: number): void {
  const [, c, h, w] = batch.shape;
  const plane = h * w;
  const base = index * c * plane;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = ((y0 + y) * out.width + x0 + x) * 3;
      for (let k = 0; k < 3; k++) {
        const channel = c === 1 ? 0 : k;
        out.data[o + k] = toByte(batch.data[base + channel * plane + y * w + x]);
      }
    }
  }
}

/**
 * torchvision `make_grid` + `save_image`: columns = min(samplesPerRow, N), rows = ceil(N / columns),
 * image (r, c) at (c·(W+pad)+pad, r·(H+pad)+pad) on a black canvas; a batch of one image comes
 * back as is, with no border.
 */
export function makeGrid(batch: ImageBatch, options: GridOptions = {}): RgbImage {
  const [n, , h, w] = checkBatch(batch);
  const samplesPerRow = options.samplesPerRow ?? 4;
  const padding = options.padding ?? 2;
  if (!Number.isInteger(samplesPerRow) || samplesPerRow < 1) {
    throw new InternalError(`samples per row ${samplesPerRow} must be a whole number ≥ 1 (e.g. --samples-per-row 4)`);
  }
  if (!Number.isInteger(padding) || padding < 0) {
    throw new InternalError(`grid padding ${padding} must be a whole number ≥ 0`);
  }
  if (n === 1) {
    const single: RgbImage = { width: w, height: h, data: new Uint8Array(w * h * 3) };
    blit(batch, 0, single, 0, 0);
    return single;
  }
  const columns = Math.min(samplesPerRow, n);
  const rows = Math.ceil(n / columns);
  const width = columns * (w + padding) + padding;
  const height = rows * (h + padding) + padding;
  const grid: RgbImage = { width, height, data: new Uint8Array(width * height * 3) };
  for (let i = 0; i < n; i++) {
    const r = Math.floor(i / columns);
    const c = i % columns;
    blit(batch, i, grid, c * (w + padding) + padding, r * (h + padding) + padding);
  }
  return grid;
}

/** Each image of the batch on its own, as `save_image` writes a single image (no border). */
export function splitImages(batch: ImageBatch): RgbImage[] {
  const [n, , h, w] = checkBatch(batch);
  const images: RgbImage[] = [];
  for (let i = 0; i < n; i++) {
    const image: RgbImage = { width: w, height: h, data: new Uint8Array(w * h * 3) };
    blit(batch, i, image, 0, 0);
    images.push(image);
  }
  return images;
}
