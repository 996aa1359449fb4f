import type { RgbImage } from './grid.js';

/** Enlarges an image by an integer factor, each pixel becoming a k×k block (no smoothing). */
export function upscaleNearest(image: RgbImage, k: number): RgbImage {
  if (k === 1) return image;
  const width = image.width * k;
  const height = image.height * k;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor(y / k);
    for (let x = 0; x < width; x++) {
      const s = (sy * image.width + Math.floor(x / k)) * 3;
      const o = (y * width + x) * 3;
      data[o] = image.data[s]!;
      data[o + 1] = image.data[s + 1]!;
      data[o + 2] = image.data[s + 2]!;
    }
  }
  return { width, height, data };
}
