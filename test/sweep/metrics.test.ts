import { describe, expect, it } from 'vitest';
import { laplacianVariance, meanPairwiseDistance, meanSaturation, meanWithinClassDistance, scoreLogits, type ImageBatch } from '../../src/sweep/metrics.js';

const batch = (values: number[], shape: [number, number, number, number]): ImageBatch => ({ data: Float32Array.from(values), shape });

describe('sweep metrics on hand-computed arrays', () => {
  it('mean pairwise RMS distance, with clamping to [-1, 1]', () => {
    // Three 1×1×2 images: a = (0, 0), b = (1, 1), c = (3 → clamped 1, -1).
    const b = batch([0, 0, 1, 1, 3, -1], [3, 1, 1, 2]);
    // d(a,b) = sqrt((1+1)/2) = 1; d(a,c) = sqrt((1+1)/2) = 1; d(b,c) = sqrt((0+4)/2) = sqrt(2).
    expect(meanPairwiseDistance(b)).toBeCloseTo((2 + Math.SQRT2) / 3, 12);
    expect(meanPairwiseDistance(b, [1, 2])).toBeCloseTo(Math.SQRT2, 12);
    expect(meanPairwiseDistance(b, [0])).toBeNaN();
    // Classes: {a, b} → 1, {c} alone is skipped.
    expect(meanWithinClassDistance(b, [5, 5, 7])).toBeCloseTo(1, 12);
  });

  it('Laplacian variance of a single bright pixel', () => {
    // 3×3 grey image, 0 everywhere (luminance 0.5) except centre 1 (luminance 1): one interior
    // pixel, Laplacian = 4·0.5 − 4·1 = −2, variance over one value = 0.
    const img = new Array(9).fill(0);
    img[4] = 1;
    expect(laplacianVariance(batch(img, [1, 1, 3, 3]))).toBe(0);
    // 4×3 (h=4, w=3): interior pixels (1,1) and (2,1). Luminances: all 0.5 but (1,1) = 1.
    // lap(1,1) = 0.5+0.5+0.5+0.5 − 4 = −2; lap(2,1) = 1 + 0.5·3 − 2 = 0.5 → mean −0.75, var = 1.5625.
    const tall = new Array(12).fill(0);
    tall[4] = 1;
    expect(laplacianVariance(batch(tall, [1, 1, 4, 3]))).toBeCloseTo(1.5625, 12);
  });

  it('HSV saturation of pure and grey pixels', () => {
    // Two RGB pixels: pure red (1,-1,-1) → s = 1; mid grey (0,0,0) → s = 0.
    const b = batch([1, 0, -1, 0, -1, 0], [1, 3, 1, 2]);
    expect(meanSaturation(b)).toBeCloseTo(0.5, 12);
    expect(meanSaturation(batch([0, 0], [1, 1, 1, 2]))).toBeNaN();
  });

  it('classifier accuracy and mean label confidence', () => {
    const logits = Float32Array.from([2, 0, 0, /* */ 0, 0, Math.log(2)]);
    const s = scoreLogits(logits, 3, [0, 1]);
    expect(s.accuracy).toBe(0.5);
    const p0 = Math.exp(2) / (Math.exp(2) + 2);
    const p1 = 1 / (1 + 1 + 2);
    expect(s.meanConfidence).toBeCloseTo((p0 + p1) / 2, 6);
  });
});
