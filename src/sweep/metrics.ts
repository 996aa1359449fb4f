/**
 * Numbers for what users of the guidance × steps study judge by eye. All work on images as the
 * decoder gives them, (N, C, H, W) floats in [-1, 1] (values outside are clamped first, as the
 * saved PNG is).
 *
 * - Diversity: mean pairwise RMS distance between images, sqrt(mean((a − b)²)) over all pixels
 *   and channels, in [-1, 1] units. No perceptual network is available offline; plain pixel
 *   distance still falls when guidance collapses samples onto a few modes, which is the effect
 *   the study looks for. RMS (not the sum) keeps it comparable across image sizes.
 * - Sharpness: variance of the 4-neighbour Laplacian of the luminance in [0, 1], averaged over
 *   images (the classic focus measure of Pech-Pacheco et al., 2000). Blurry few-step samples have
 *   little high-frequency energy; over-guided ones show ringing and hard edges — both move it.
 * - Saturation (RGB only): mean HSV saturation, (max − min) / max per pixel; CFG 10's
 *   "over-saturated" look shows up here.
 */

import type { ImageBatch } from '../image/grid.js';

export type { ImageBatch };

const clamp = (v: number) => (v < -1 ? -1 : v > 1 ? 1 : v);

/** RMS distance between images i and j. */
function rmsDistance(b: ImageBatch, i: number, j: number): number {
  const size = b.shape[1] * b.shape[2] * b.shape[3];
  let sum = 0;
  for (let k = 0; k < size; k++) {
    const d = clamp(b.data[i * size + k]!) - clamp(b.data[j * size + k]!);
    sum += d * d;
  }
  return Math.sqrt(sum / size);
}

/** Mean pairwise RMS distance over the images listed (all when omitted); NaN for fewer than 2. */
export function meanPairwiseDistance(b: ImageBatch, indices?: readonly number[]): number {
  const ids = indices ?? Array.from({ length: b.shape[0] }, (_, i) => i);
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < ids.length; a++) {
    for (let c = a + 1; c < ids.length; c++) {
      sum += rmsDistance(b, ids[a]!, ids[c]!);
      pairs++;
    }
  }
  return pairs === 0 ? NaN : sum / pairs;
}

/** Mean over classes (with ≥ 2 samples) of the within-class mean pairwise distance. */
export function meanWithinClassDistance(b: ImageBatch, labels: readonly number[]): number {
  const byClass = new Map<number, number[]>();
  labels.forEach((l, i) => byClass.set(l, [...(byClass.get(l) ?? []), i]));
  const values = [...byClass.values()].filter((ids) => ids.length >= 2).map((ids) => meanPairwiseDistance(b, ids));
  return values.length === 0 ? NaN : values.reduce((s, v) => s + v, 0) / values.length;
}

/** Luminance in [0, 1] of image n (ITU-R BT.601 weights for RGB; the channel itself for grey). */
function luminance(b: ImageBatch, n: number): Float64Array {
  const [, c, h, w] = b.shape;
  const plane = h * w;
  const base = n * c * plane;
  const out = new Float64Array(plane);
  for (let p = 0; p < plane; p++) {
    const v =
      c === 3
        ? 0.299 * clamp(b.data[base + p]!) + 0.587 * clamp(b.data[base + plane + p]!) + 0.114 * clamp(b.data[base + 2 * plane + p]!)
        : clamp(b.data[base + p]!);
    out[p] = (v + 1) / 2;
  }
  return out;
}

/** Mean over images of the variance of the 4-neighbour Laplacian over interior pixels. */
export function laplacianVariance(b: ImageBatch): number {
  const [n, , h, w] = b.shape;
  if (h < 3 || w < 3) return NaN;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const y = luminance(b, i);
    let sum = 0;
    let sumSq = 0;
    let count = 0;
    for (let r = 1; r < h - 1; r++) {
      for (let c = 1; c < w - 1; c++) {
        const p = r * w + c;
        const lap = y[p - w]! + y[p + w]! + y[p - 1]! + y[p + 1]! - 4 * y[p]!;
        sum += lap;
        sumSq += lap * lap;
        count++;
      }
    }
    const mean = sum / count;
    total += sumSq / count - mean * mean;
  }
  return total / n;
}

/** Mean HSV saturation over all pixels of RGB images; NaN for one-channel images. */
export function meanSaturation(b: ImageBatch): number {
  const [n, c, h, w] = b.shape;
  if (c !== 3) return NaN;
  const plane = h * w;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < plane; p++) {
      const base = i * 3 * plane + p;
      const r = (clamp(b.data[base]!) + 1) / 2;
      const g = (clamp(b.data[base + plane]!) + 1) / 2;
      const bl = (clamp(b.data[base + 2 * plane]!) + 1) / 2;
      const max = Math.max(r, g, bl);
      sum += max === 0 ? 0 : (max - Math.min(r, g, bl)) / max;
    }
  }
  return sum / (n * plane);
}

export interface ClassifierScores {
  /** Share of images whose top class is their label. */
  readonly accuracy: number;
  /** Mean softmax probability of the label class. */
  readonly meanConfidence: number;
}

/** Per image: whether its top class is its label, the softmax probability of its label, and its top class. */
export function labelScores(logits: Float32Array, numClasses: number, labels: readonly number[]): { readonly hit: Uint8Array; readonly pLabel: Float64Array; readonly predicted: Int32Array } {
  const hit = new Uint8Array(labels.length);
  const pLabel = new Float64Array(labels.length);
  const predicted = new Int32Array(labels.length);
  labels.forEach((label, i) => {
    const row = logits.subarray(i * numClasses, (i + 1) * numClasses);
    let best = 0;
    let max = -Infinity;
    row.forEach((v, k) => {
      if (v > max) {
        max = v;
        best = k;
      }
    });
    let z = 0;
    row.forEach((v) => (z += Math.exp(v - max)));
    pLabel[i] = Math.exp(row[label]! - max) / z;
    hit[i] = best === label ? 1 : 0;
    predicted[i] = best;
  });
  return { hit, pLabel, predicted };
}

/** Scores logits (N, K) against labels. */
export function scoreLogits(logits: Float32Array, numClasses: number, labels: readonly number[]): ClassifierScores {
  const { hit, pLabel } = labelScores(logits, numClasses, labels);
  return { accuracy: hit.reduce((s, h) => s + h, 0) / labels.length, meanConfidence: pLabel.reduce((s, p) => s + p, 0) / labels.length };
}
