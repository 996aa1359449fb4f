/**
 * The live preview: the sampler's predicted clean sample x0 at the current step, as a small PNG
 * grid. Pixel-space models (1 or 3 channels) show x0 as it is. Latent models show a linear
 * latent → RGB approximation instead of running the VAE decoder on every preview: decoding costs
 * about as much as several DiT steps, while the approximation is a 4×3 matrix per pixel (at
 * latent resolution, i.e. 1/8 of the image side).
 */
import { makeGrid, type ImageBatch, type RgbImage } from '../image/grid.js';

/**
 * Stable Diffusion VAE latent channel → RGB weights (rows: latent channels 0..3, columns R, G, B)
 * on the scaled latent (the diffusion-space one, before `/ 0.18215`), giving values near [-1, 1].
 * DiT uses that VAE (sd-vae-ft-ema/-mse); the figures are the SD 1.x ones used by ComfyUI's
 * previews (comfy/latent_formats.py, class SD15), fitted by regression against decoded images.
 */
const SD_LATENT_RGB: readonly (readonly [number, number, number])[] = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];

/** x0 (N, C, H, W) → an image batch makeGrid accepts (1 or 3 channels). */
export function previewBatch(x0: Float32Array, shape: readonly [number, number, number, number]): ImageBatch {
  const [n, c, h, w] = shape;
  if (c === 1 || c === 3) return { data: x0, shape };
  const plane = h * w;
  if (c === 4) {
    const rgb = new Float32Array(n * 3 * plane);
    for (let b = 0; b < n; b++) {
      for (let k = 0; k < 3; k++) {
        const out = (b * 3 + k) * plane;
        for (let ch = 0; ch < 4; ch++) {
          const weight = SD_LATENT_RGB[ch][k];
          const src = (b * 4 + ch) * plane;
          for (let p = 0; p < plane; p++) rgb[out + p] += weight * x0[src + p];
        }
      }
    }
    return { data: rgb, shape: [n, 3, h, w] };
  }
  // Unknown latent spaces: the first channel as grey, enough to watch structure emerge.
  const grey = new Float32Array(n * plane);
  for (let b = 0; b < n; b++) grey.set(x0.subarray(b * c * plane, b * c * plane + plane), b * plane);
  return { data: grey, shape: [n, 1, h, w] };
}

/** PNG bytes as a data URL (btoa: the same in Node and the page). */
export function pngDataUrl(png: Uint8Array): string {
  let text = '';
  for (let i = 0; i < png.length; i += 0x8000) text += String.fromCharCode(...png.subarray(i, i + 0x8000));
  return `data:image/png;base64,${btoa(text)}`;
}

/** The preview as a data URL, laid out like the final grid; `encode` writes the PNG (png.ts in Node, png-stored.ts in the page). */
export function previewDataUrl(x0: Float32Array, shape: readonly [number, number, number, number], samplesPerRow: number, encode: (image: RgbImage) => Uint8Array): string {
  return pngDataUrl(encode(makeGrid(previewBatch(x0, shape), { samplesPerRow })));
}

/** Steps after which a preview is sent: about 20 over the run, and always the last. */
export function previewEvery(steps: number): number {
  return Math.max(1, Math.ceil(steps / 20));
}

/** Whether step `done` (1-based) of `steps` sends a preview: the first (an image as soon as possible), every previewEvery-th, the last. */
export function isPreviewStep(done: number, steps: number): boolean {
  return done === 1 || done % previewEvery(steps) === 0 || done === steps;
}
