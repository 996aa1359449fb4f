import { describe, expect, it } from 'vitest';
import { upscaleNearest } from '../../src/image/scale.js';

describe('upscaleNearest', () => {
  it('turns each pixel into a k×k block', () => {
    const img = { width: 2, height: 1, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
    const big = upscaleNearest(img, 2);
    expect([big.width, big.height]).toEqual([4, 2]);
    expect(Array.from(big.data)).toEqual([1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
    expect(upscaleNearest(img, 1)).toBe(img);
  });
});
