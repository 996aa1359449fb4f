/**
 * FID as pytorch-fid computes it: the Fréchet distance between Gaussians fitted to the 2048-d pool3
 * features of its FID Inception v3 (models/inception.ts) over two image sets, or against statistics
 * saved before (an .npz of `mu` and `sigma`, the format of pytorch-fid's --save-stats and of the
 * ADM evaluator's reference batches).
 *
 * A set is a folder of PNG files (sorted by name) or an .npz whose `arr_0` is uint8 (N, H, W, 3) —
 * what DiT's sample_ddp.py and `dit generate` write. Everything read from such a file is bounded
 * before it is believed: shapes and dtypes come from the headers, images are read a batch at a
 * time by offset, a PNG's size is read from its header before it is decoded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from './errors.js';
import { npzArrays, writeNpz, type RawNpyHeader } from './checkpoint/index.js';
import { CheckpointFile } from './checkpoint/file.js'; // positional, bounds-checked reads of the images
import { readPng } from './image/png.js';
import { FeatureStatistics, frechetDistance, type GaussianStats } from './metrics/frechet.js';
import { INCEPTION_FEATURES } from './models/inception.js';
import type { InceptionFeatures, RgbBatch } from './runtime/inception-session.js';

/** Largest image side accepted (an 8-bit RGB 4096² image is 48 MiB before the resize to 299). */
export const MAX_FID_IMAGE_SIDE = 4096;
export const DEFAULT_FID_BATCH = 32;

/** A set to measure: images (counted, read lazily in batches) or statistics already computed. */
export type FidSource =
  | { readonly kind: 'stats'; readonly path: string; readonly stats: GaussianStats }
  | {
      readonly kind: 'images';
      readonly path: string;
      readonly count: number;
      /** Batches of at most `size` images, each of one image size, in order. */
      batches(size: number): Iterable<RgbBatch>;
    };

/**
 * Opens what a user named as a set: a folder of PNGs, an .npz of images (`arr_0`) or of
 * statistics (`mu`, `sigma`). `flag` names the argument in messages ("--ref", "the input").
 */
export function openFidSource(p: string, flag: string): FidSource {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(p);
  } catch {
    throw new UsageError(`${flag} ${p}: no such file or folder; pass a folder of PNGs or an .npz of images (arr_0) or statistics (mu, sigma)`);
  }
  return stat.isDirectory() ? pngFolder(p, flag) : npzSource(p, flag);
}

function pngFolder(dir: string, flag: string): FidSource {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.toLowerCase().endsWith('.png'))
    .sort()
    .map((f) => path.join(dir, f));
  if (files.length === 0) throw new UsageError(`${flag} ${dir}: the folder holds no .png files; pass a folder of PNG images or an .npz`);
  return {
    kind: 'images',
    path: dir,
    count: files.length,
    *batches(size) {
      let pending: Array<{ data: Uint8Array }> = [];
      let shape: [number, number] | undefined;
      const flush = (): RgbBatch => {
        const [h, w] = shape!;
        const data = new Uint8Array(pending.length * h * w * 3);
        pending.forEach((im, i) => data.set(im.data, i * h * w * 3));
        const batch = { data, count: pending.length, height: h, width: w };
        pending = [];
        return batch;
      };
      for (const file of files) {
        const [w, h] = pngSize(file);
        if (w > MAX_FID_IMAGE_SIDE || h > MAX_FID_IMAGE_SIDE) {
          throw new UsageError(`${file} is ${w}×${h}; FID takes images up to ${MAX_FID_IMAGE_SIDE} pixels a side (they are resized to 299×299)`);
        }
        if (pending.length > 0 && (shape![0] !== h || shape![1] !== w || pending.length === size)) yield flush();
        shape = [h, w];
        pending.push(readPng(file));
      }
      if (pending.length > 0) yield flush();
    },
  };
}

/** Width and height from a PNG's IHDR, read before decoding (a decompression bomb is refused here). */
function pngSize(file: string): [number, number] {
  const fd = fs.openSync(file, 'r');
  const head = new Uint8Array(24);
  try {
    fs.readSync(fd, head, 0, 24, 0);
  } finally {
    fs.closeSync(fd);
  }
  const v = new DataView(head.buffer);
  if (v.getUint32(0) !== 0x89504e47 || v.getUint32(12) !== 0x49484452) throw new UsageError(`${file} is not a PNG (no PNG signature and IHDR); re-save it as PNG`);
  return [v.getUint32(16), v.getUint32(20)];
}

function npzSource(p: string, flag: string): FidSource {
  const file = new CheckpointFile(p);
  let arrays: Map<string, RawNpyHeader>;
  try {
    const head = file.read(0, Math.min(4, file.size), 'the first bytes');
    if (!(head[0] === 0x50 && head[1] === 0x4b)) throw new UsageError(`${flag} ${p} is neither a folder nor an .npz (zip) file; pass a folder of PNGs or an .npz of images (arr_0) or statistics (mu, sigma)`);
    arrays = npzArrays(file);
  } catch (err) {
    file.close();
    throw err;
  }
  const mu = arrays.get('mu');
  const sigma = arrays.get('sigma');
  if (mu && sigma) {
    try {
      return { kind: 'stats', path: p, stats: readStats(file, p, flag, mu, sigma) };
    } finally {
      file.close();
    }
  }
  const images = arrays.get('arr_0');
  if (!images) {
    file.close();
    throw new UsageError(`${flag} ${p} holds ${[...arrays.keys()].join(', ') || 'no arrays'}; expected arr_0 (uint8 images (N, H, W, 3)) or mu and sigma (${INCEPTION_FEATURES} and ${INCEPTION_FEATURES}×${INCEPTION_FEATURES})`);
  }
  const [n, h, w, c] = images.shape;
  if (images.descr !== '|u1' || images.shape.length !== 4 || c !== 3) {
    file.close();
    throw new UsageError(`${flag} ${p}: arr_0 is ${images.descr} of shape (${images.shape.join(', ')}); expected uint8 images (N, H, W, 3) as sample_ddp.py and \`dit generate\` write`);
  }
  if (n! < 2 || h! < 1 || w! < 1 || h! > MAX_FID_IMAGE_SIDE || w! > MAX_FID_IMAGE_SIDE) {
    file.close();
    throw new UsageError(`${flag} ${p}: arr_0 holds ${n} images of ${w}×${h}; FID needs at least 2 images of 1..${MAX_FID_IMAGE_SIDE} pixels a side`);
  }
  const bytesPerImage = h! * w! * 3;
  return {
    kind: 'images',
    path: p,
    count: n!,
    *batches(size) {
      try {
        for (let i = 0; i < n!; i += size) {
          const count = Math.min(size, n! - i);
          const data = file.read(images.dataOffset + i * bytesPerImage, count * bytesPerImage, `images ${i}..${i + count - 1}`);
          yield { data, count, height: h!, width: w! };
        }
      } finally {
        file.close();
      }
    },
  };
}

function readStats(file: CheckpointFile, p: string, flag: string, mu: RawNpyHeader, sigma: RawNpyHeader): GaussianStats {
  const d = INCEPTION_FEATURES;
  const float = (a: RawNpyHeader) => a.descr === '<f8' || a.descr === '<f4';
  if (!float(mu) || !float(sigma) || mu.shape.join() !== `${d}` || sigma.shape.join() !== `${d},${d}`) {
    throw new UsageError(
      `${flag} ${p}: mu is ${mu.descr} (${mu.shape.join(', ')}) and sigma ${sigma.descr} (${sigma.shape.join(', ')}); expected float mu (${d}) and sigma (${d}, ${d}), the statistics of Inception pool3 features`,
    );
  }
  const read = (a: RawNpyHeader, name: string): Float64Array => {
    const count = a.shape.reduce((x, y) => x * y, 1);
    const width = a.descr === '<f8' ? 8 : 4;
    const bytes = file.read(a.dataOffset, count * width, name);
    const values = a.descr === '<f8' ? new Float64Array(bytes.buffer, bytes.byteOffset, count) : Float64Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, count));
    const bad = values.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new UsageError(`${flag} ${p}: ${name} holds a non-finite value (${values[bad]}) at index ${bad}`);
    return values;
  };
  return { mu: read(mu, 'mu'), sigma: read(sigma, 'sigma') };
}

/** μ and Σ of a set's Inception features (statistics given as such are returned as they are). */
export async function featureStatistics(
  source: FidSource,
  net: InceptionFeatures,
  opts: { readonly batchSize?: number; readonly onProgress?: (done: number, total: number) => void } = {},
): Promise<GaussianStats> {
  if (source.kind === 'stats') return source.stats;
  const acc = new FeatureStatistics(INCEPTION_FEATURES);
  for (const batch of source.batches(opts.batchSize ?? DEFAULT_FID_BATCH)) {
    acc.add(await net.features(batch));
    opts.onProgress?.(acc.count, source.count);
  }
  return acc.finish();
}

/** Writes μ and Σ as pytorch-fid's --save-stats does: an .npz of float64 `mu` and `sigma`. */
export function saveFidStats(file: string, stats: GaussianStats): void {
  const d = stats.mu.length;
  const bytes = (a: Float64Array) => () => [new Uint8Array(a.buffer, a.byteOffset, a.byteLength)];
  writeNpz(file, [
    { name: 'mu', descr: '<f8', shape: [d], chunks: bytes(stats.mu) },
    { name: 'sigma', descr: '<f8', shape: [d, d], chunks: bytes(stats.sigma) },
  ]);
}

export { frechetDistance };
