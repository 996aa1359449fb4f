import { describe, expect, it } from 'vitest';
import { isPreviewStep, previewBatch, previewDataUrl, previewEvery } from '../../src/server/preview.js';
import { encodePng } from '../../src/image/png.js';
import { decodePng } from '../../src/image/png.js';
import { toByte } from '../../src/image/grid.js';

describe('previewBatch', () => {
  it('passes pixel-space x0 through unchanged', () => {
    const x0 = new Float32Array([0.5, -0.5, 0.25, 1]);
    const b = previewBatch(x0, [1, 1, 2, 2]);
    expect(b.shape).toEqual([1, 1, 2, 2]);
    expect(b.data).toBe(x0);
  });

  it('maps each SD latent channel to its RGB weights (ComfyUI SD15 table)', () => {
    // One 1×1 latent per channel: a unit value on channel k gives row k of the table.
    const x0 = new Float32Array(4 * 4);
    for (let k = 0; k < 4; k++) x0[k * 4 + k] = 1;
    const b = previewBatch(x0, [4, 4, 1, 1]);
    expect(b.shape).toEqual([4, 3, 1, 1]);
    const rows = [
      [0.3512, 0.2297, 0.3227],
      [0.325, 0.4974, 0.235],
      [-0.2829, 0.1762, 0.2721],
      [-0.212, -0.2616, -0.7177],
    ];
    for (let k = 0; k < 4; k++) {
      expect([...b.data.subarray(k * 3, k * 3 + 3)].map((v) => Number(v.toFixed(6)))).toEqual(rows[k]);
    }
  });

  it('sums the channels of one latent pixel', () => {
    const b = previewBatch(new Float32Array([1, 2, -1, 0.5]), [1, 4, 1, 1]);
    const r = 0.3512 + 2 * 0.325 + 0.2829 - 0.5 * 0.212;
    expect(b.data[0]).toBeCloseTo(r, 6);
  });

  it('shows the first channel of other latent spaces as grey', () => {
    const b = previewBatch(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]), [2, 8, 1, 1]);
    expect(b.shape).toEqual([2, 1, 1, 1]);
    expect([...b.data]).toEqual([1, 9]);
  });
});

describe('previewDataUrl', () => {
  it('encodes the grid as a PNG data URL, laid out like the final grid', () => {
    const x0 = new Float32Array(3 * 4).fill(0.5);
    const url = previewDataUrl(x0, [3, 1, 2, 2], 2, encodePng);
    expect(url.startsWith('data:image/png;base64,')).toBe(true);
    const png = decodePng(Buffer.from(url.slice('data:image/png;base64,'.length), 'base64'));
    // 2 columns × 2 rows of 2×2 images with torchvision's 2-pixel padding.
    expect([png.width, png.height]).toEqual([2 * 4 + 2, 2 * 4 + 2]);
    expect(png.data[(2 * png.width + 2) * 3]).toBe(toByte(0.5));
  });
});

describe('previewEvery', () => {
  it('sends about 20 previews per run', () => {
    expect([1, 4, 20, 21, 50, 250, 1000].map(previewEvery)).toEqual([1, 1, 1, 2, 3, 13, 50]);
  });
});

describe('isPreviewStep', () => {
  it('previews the first step (an image as soon as possible), every previewEvery-th, and the last', () => {
    const at = (n: number) => Array.from({ length: n }, (_, i) => i + 1).filter((d) => isPreviewStep(d, n));
    expect(at(100)).toEqual([1, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 100]);
    expect(at(3)).toEqual([1, 2, 3]);
    expect(at(43)).toEqual([1, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 43]);
  });
});
