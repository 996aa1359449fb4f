/**
 * `dit decode`: saved latents → images, as DiT's sample.py does after sampling
 * (`vae.decode(samples / 0.18215)`, then `save_image(..., normalize=True, value_range=(-1, 1))`).
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { readNpy, writeNpy } from '../checkpoint/index.js';
import { resolveLoadOptions } from '../options.js';
import { compiledCacheDir, defaultCacheDir, openVaeSession, resolveVaeSource } from '../model-files.js';
import { makeGrid, splitImages } from '../image/grid.js';
import { saveEach, writePng } from '../image/png.js';
import { checkWritable } from './output.js';

interface DecodeFlags {
  vae: string;
  latents: string;
  out?: string;
  saveImages?: string;
  saveEach?: string;
  samplesPerRow: string;
  tile?: string;
  device?: string;
  threads?: string;
  cache?: boolean;
  cacheDir?: string;
}

function parseWholeNumber(flag: string, text: string, min: number, hint: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < min) {
    throw new UsageError(`${flag} ${JSON.stringify(text)} must be a whole number ≥ ${min} (${hint})`);
  }
  return Number(text);
}

export function register(program: Command): void {
  program
    .command('decode')
    .description('decode saved latents with a VAE into the PNG grid (and/or the decoder\'s float images as .npy)')
    .requiredOption('--vae <path|ema|mse>', 'VAE folder (config.json + weights) or weights file; ema / mse: the official VAE in the cache folder')
    .requiredOption('--latents <file>', 'float32 .npy latents (N, 4, h, w) as sampled (the scaling factor is divided out here, as DiT does)')
    .option('--out <file>', 'the grid PNG (default grid.png when --save-images is not given)')
    .option('--save-images <file>', "write the decoder's float output (N, 3, H, W), before clamping, as .npy")
    .option('--save-each <dir>', 'also write one PNG per image into this folder')
    .option('--samples-per-row <n>', 'grid columns', '4')
    .option('--tile <n>', 'decode latents larger than n×n in overlapping n×n tiles with blended seams (less memory; e.g. 32)')
    .option('--device <cpu|webgpu|cuda>', 'where to run', 'cpu')
    .option('--threads <n>', 'CPU threads for ONNX Runtime (default: all cores)')
    .option('--no-cache', 'rebuild the ONNX model instead of reusing the compiled-model cache')
    .option('--cache-dir <dir>', 'model cache folder (default $DIT_CACHE_DIR or ~/.cache/dit-ts)')
    .action(async (flags: DecodeFlags) => {
      const started = performance.now();
      const load = resolveLoadOptions({
        vae: flags.vae,
        device: flags.device,
        threads: flags.threads as unknown as number | undefined,
        noCache: flags.cache === false,
        cacheDir: flags.cacheDir,
      });
      const samplesPerRow = parseWholeNumber('--samples-per-row', flags.samplesPerRow, 1, 'grid columns, e.g. 4');
      const tile = flags.tile === undefined ? undefined : parseWholeNumber('--tile', flags.tile, 2, 'latent pixels per tile side, e.g. 32 for 256-pixel tiles');
      const out = flags.out ?? (flags.saveImages === undefined ? 'grid.png' : undefined);
      for (const p of [out, flags.saveImages]) if (p !== undefined) checkWritable(p);
      if (flags.saveEach) checkWritable(flags.saveEach, { directory: true });
      const vaePath = resolveVaeSource(flags.vae, load.cacheDir ?? defaultCacheDir(), { noneAllowed: false });

      if (!fs.existsSync(flags.latents)) throw new UsageError(`--latents ${flags.latents}: no such file; pass a .npy written by \`dit sample --save-latents\``);
      const latents = readNpy(flags.latents);
      if (!(latents.data instanceof Float32Array) || latents.shape.length !== 4) {
        const type = latents.data instanceof Float32Array ? 'float32' : 'int64';
        throw new UsageError(`--latents ${flags.latents} holds ${type} of shape [${latents.shape.join(', ')}]; expected float32 latents (N, 4, h, w)`);
      }
      const shape = latents.shape as [number, number, number, number];

      const vae = await openVaeSession(vaePath, {
        device: load.device,
        threads: load.threads,
        cacheDir: compiledCacheDir(load),
        tile: tile === undefined ? undefined : { latentTile: tile },
      });
      let images;
      try {
        images = await vae.decode(latents.data, shape);
      } finally {
        await vae.release();
      }
      const written: string[] = [];
      if (flags.saveImages) {
        writeNpy(flags.saveImages, images.data, images.shape);
        written.push(flags.saveImages);
      }
      if (out) {
        writePng(out, makeGrid(images, { samplesPerRow }));
        written.push(out);
      }
      if (flags.saveEach) written.push(...saveEach(flags.saveEach, splitImages(images)));
      const [n, , h, w] = images.shape;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      process.stdout.write(`decoded ${n} latent(s) [${shape.join(', ')}] to ${w}×${h} images in ${seconds} s; wrote ${written.join(', ')}\n`);
    });
}
