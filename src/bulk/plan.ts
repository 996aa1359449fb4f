/**
 * The plan of a bulk run (`dit generate`): what image i is, as pure functions of the run's global
 * seed and i alone, so that no split of the work (shards, batches, queue chunks, resumes) changes
 * any image.
 *
 *   imageSeed(seed, i)        the torch.manual_seed of image i (a bijection of i for each seed)
 *   imageLabel(labels, i)     its class: cycling through the classes (balanced) or a uniform draw
 *   shardRange(n, k, m)       the contiguous indexes shard k of m writes
 *   chunkRanges(range, size)  a range cut into chunks (batches, queue jobs)
 *   imageFileName(i, n)       000123.png, zero-padded to at least 6 digits and to the width of n − 1
 */
import { assert } from '../errors.js';

const MASK32 = 0xffffffffn;
const MASK64 = (1n << 64n) - 1n;

/** MurmurHash3's 32-bit finalizer: a bijection of uint32 that mixes every bit into every bit. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3's 64-bit finalizer, of a seed read as uint64 (−1 is 2^64 − 1, as torch reads it). */
export function fmix64(seed: bigint): bigint {
  let k = BigInt.asUintN(64, seed);
  k ^= k >> 33n;
  k = (k * 0xff51afd7ed558ccdn) & MASK64;
  k ^= k >> 33n;
  k = (k * 0xc4ceb9fe1a85ec53n) & MASK64;
  k ^= k >> 33n;
  return k;
}

/** Largest number of images in one run: image seeds are distinct 32-bit values (mt19937 keeps 32 bits). */
export const MAX_BULK_IMAGES = 2 ** 32;

/**
 * The seed of image i: fmix32((low 32 bits of fmix64(seed)) + i mod 2^32). For a fixed global seed
 * this is a bijection of i, so no two images of a run share their noise; two global seeds give
 * unrelated streams (not the same images shifted by one index, as seed + i would). Python:
 *   def fmix32(h): h ^= h >> 16; h = h * 0x85ebca6b & M32; h ^= h >> 13; h = h * 0xc2b2ae35 & M32; return h ^ (h >> 16)
 * and likewise fmix64 with 33-bit shifts and the constants below; then torch.manual_seed(image_seed).
 */
export function imageSeed(seed: bigint, i: number): bigint {
  assert(Number.isInteger(i) && i >= 0 && i < MAX_BULK_IMAGES, () => `image index ${i} is out of range 0..2^32 − 1`);
  const base = Number(fmix64(seed) & MASK32);
  return BigInt(fmix32((base + i) >>> 0));
}

/**
 * How labels are chosen: `balanced` cycles through `classes` (image i gets classes[i mod K], so
 * every class appears ⌊N/K⌋ or ⌈N/K⌉ times); `random` draws uniformly from 0..numClasses − 1 per
 * image, as sample_ddp.py's torch.randint does, from a hash of the image's seed (not from its noise
 * generator, so the noise of image i stays that of a one-image `dit sample --seed imageSeed(seed, i)`).
 */
export type LabelPlan = { readonly kind: 'balanced'; readonly classes: readonly number[] } | { readonly kind: 'random'; readonly numClasses: number; readonly seed: bigint };
export const LABEL_MODES = ['balanced', 'random'] as const;
export type LabelMode = (typeof LABEL_MODES)[number];

/** The class of image i: balanced, classes[i mod K]; random, ⌊fmix32(imageSeed ⊕ 0x9e3779b9) · K / 2^32⌋. */
export function imageLabel(plan: LabelPlan, i: number): number {
  if (plan.kind === 'balanced') {
    assert(plan.classes.length > 0, 'a balanced label plan needs at least one class');
    return plan.classes[i % plan.classes.length]!;
  }
  const h = fmix32((Number(imageSeed(plan.seed, i)) ^ 0x9e3779b9) >>> 0);
  return Math.floor((h * plan.numClasses) / 2 ** 32);
}

/** A half-open range of image indexes [start, end). */
export interface IndexRange {
  readonly start: number;
  readonly end: number;
}

/** Shard k (0-based) of m: the contiguous indexes [⌊k·n/m⌋, ⌊(k+1)·n/m⌋). */
export function shardRange(n: number, k: number, m: number): IndexRange {
  assert(Number.isInteger(k) && Number.isInteger(m) && m >= 1 && k >= 0 && k < m, () => `shard ${k}/${m} is invalid`);
  return { start: Math.floor((k * n) / m), end: Math.floor(((k + 1) * n) / m) };
}

/** `range` cut into consecutive pieces of at most `size` indexes. */
export function chunkRanges(range: IndexRange, size: number): IndexRange[] {
  assert(Number.isInteger(size) && size >= 1, () => `chunk size ${size} is invalid`);
  const out: IndexRange[] = [];
  for (let s = range.start; s < range.end; s += size) out.push({ start: s, end: Math.min(range.end, s + size) });
  return out;
}

/** Digits of a file name for a run of n images: at least 6 (sample_ddp's 000123.png), more for n > 10^6. */
export function indexWidth(n: number): number {
  return Math.max(6, String(Math.max(0, n - 1)).length);
}

export function imageFileName(i: number, n: number): string {
  return `${String(i).padStart(indexWidth(n), '0')}.png`;
}
