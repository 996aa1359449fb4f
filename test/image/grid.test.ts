import { describe, expect, it } from 'vitest';
import { makeGrid, splitImages, toByte, type ImageBatch, type RgbImage } from '../../src/image/grid.js';
import { InternalError } from '../../src/errors.js';

function pixel(img: RgbImage, x: number, y: number): number[] {
  const o = (y * img.width + x) * 3;
  return [img.data[o], img.data[o + 1], img.data[o + 2]];
}

/** A batch where image i, channel k is filled with values[i][k] (one value per channel). */
function constantBatch(values: number[][], h: number, w: number): ImageBatch {
  const n = values.length;
  const c = values[0].length;
  const data = new Float32Array(n * c * h * w);
  for (let i = 0; i < n; i++) for (let k = 0; k < c; k++) data.fill(values[i][k], (i * c + k) * h * w, (i * c + k + 1) * h * w);
  return { data, shape: [n, c, h, w] };
}

/**
 * Asserts every canvas pixel: inside image i's rectangle (placed by hand-derived origins) it is
 * expected[i], everywhere else black.
 */
function expectLayout(img: RgbImage, origins: Array<[number, number]>, h: number, w: number, expected: number[][]): void {
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const inside = origins.findIndex(([ox, oy]) => x >= ox && x < ox + w && y >= oy && y < oy + h);
      expect(pixel(img, x, y), `pixel (${x}, ${y})`).toEqual(inside < 0 ? [0, 0, 0] : expected[inside]);
    }
  }
}

describe('toByte (torchvision normalize + save_image, float32 steps)', () => {
  it('maps the value range ends, the middle and values outside [-1, 1]', () => {
    // (x+1)/2·255+0.5 truncated: -1 → 0.5 → 0; 0 → 128; 1 → 255.5 → 255; 0.5 → 191.75 → 191; -0.5 → 64.25 → 64
    expect([-1, 0, 1, 0.5, -0.5].map(toByte)).toEqual([0, 128, 255, 191, 64]);
    // clamped to [-1, 1] first
    expect([-7, -1.0001, 1.0001, 42].map(toByte)).toEqual([0, 0, 255, 255]);
  });

  it('rounds like float32 where double arithmetic would give one less', () => {
    // x = 0xbea0a0a1 ≈ -0.3137255: x+1 rounds up in float32, so ·255 = 87.50000238 → +0.5 → 88
    // (in double: 87.9999986 → 87).
    const a = new Float32Array(new Uint32Array([0xbea0a0a1]).buffer)[0];
    expect(toByte(a)).toBe(88);
    // x = 0x3e088886 ≈ 0.1333333: ·255 = 144.4999990, +0.5 = 144.999999 rounds to 145.0 in float32
    // (in double: 144.9999952 → 144).
    const b = new Float32Array(new Uint32Array([0x3e088886]).buffer)[0];
    expect(toByte(b)).toBe(145);
  });
});

describe('makeGrid (torchvision make_grid, padding 2, black)', () => {
  it('returns a single image as is, without a border', () => {
    const img = makeGrid(constantBatch([[0.5, -3, 1]], 3, 5), { samplesPerRow: 4 });
    expect([img.width, img.height]).toEqual([5, 3]);
    expectLayout(img, [[0, 0]], 3, 5, [[191, 0, 255]]);
  });

  it('puts 3 images in one row when samplesPerRow is 4 (columns = min(nrow, n))', () => {
    const h = 2, w = 3;
    const img = makeGrid(constantBatch([[1, 0, -1], [0.5, 2, -0.5], [-9, 9, 0]], h, w), { samplesPerRow: 4 });
    // width 3·(3+2)+2 = 17, height 1·(2+2)+2 = 6
    expect([img.width, img.height]).toEqual([17, 6]);
    expectLayout(img, [[2, 2], [7, 2], [12, 2]], h, w, [[255, 128, 0], [191, 255, 64], [0, 255, 128]]);
  });

  it('lays 8 one-channel images out 4 per row, repeating grey to RGB', () => {
    const h = 2, w = 2;
    const values = [-1, -0.5, 0, 0.5, 1, 5, -5, 0.25];
    const img = makeGrid(constantBatch(values.map((v) => [v]), h, w), { samplesPerRow: 4 });
    // width 4·(2+2)+2 = 18, height 2·(2+2)+2 = 10
    expect([img.width, img.height]).toEqual([18, 10]);
    const origins: Array<[number, number]> = [[2, 2], [6, 2], [10, 2], [14, 2], [2, 6], [6, 6], [10, 6], [14, 6]];
    // 0.25 → 0.625·255 = 159.375 + 0.5 → 159
    const bytes = [0, 64, 128, 191, 255, 255, 0, 159];
    expectLayout(img, origins, h, w, bytes.map((b) => [b, b, b]));
  });

  it('keeps the pixel order inside an image (rows, columns, channels)', () => {
    // one 3-channel 2×2 image per batch entry, distinct values per pixel and channel
    const data = new Float32Array([
      -1, -0.5, 0, 0.5, // R: (0,0) (0,1) (1,0) (1,1)
      1, -1, -0.5, 0, // G
      0.5, 1, -1, -0.5, // B
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    const img = makeGrid({ data, shape: [2, 3, 2, 2] }, { samplesPerRow: 1 });
    expect([img.width, img.height]).toEqual([6, 10]);
    expect(pixel(img, 2, 2)).toEqual([0, 255, 191]);
    expect(pixel(img, 3, 2)).toEqual([64, 0, 255]);
    expect(pixel(img, 2, 3)).toEqual([128, 64, 0]);
    expect(pixel(img, 3, 3)).toEqual([191, 128, 64]);
    expect(pixel(img, 2, 6)).toEqual([128, 128, 128]);
  });

  it('rejects shapes it cannot draw, naming the value', () => {
    expect(() => makeGrid({ data: new Float32Array(8), shape: [1, 2, 2, 2] })).toThrow(/2 channels; allowed: 1 .* or 3/);
    expect(() => makeGrid(constantBatch([[0], [0]], 1, 1), { samplesPerRow: 0 })).toThrow(InternalError);
    expect(() => makeGrid({ data: new Float32Array(3), shape: [1, 1, 2, 2] })).toThrow(/holds 3 values/);
  });
});

describe('splitImages', () => {
  it('converts each image on its own, without borders', () => {
    const images = splitImages(constantBatch([[1], [-1], [0]], 2, 3));
    expect(images.map((i) => [i.width, i.height, i.data[0], i.data[17]])).toEqual([
      [3, 2, 255, 255],
      [3, 2, 0, 0],
      [3, 2, 128, 128],
    ]);
  });
});
