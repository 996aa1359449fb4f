/**
 * `dit decode`: saved latents → images, as DiT's sample.py does after sampling
 * (`vae.decode(samples / 0.18215)`, then `save_image(..., normalize=True, value_range=(-1, 1))`).
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { readNpy, writeNpy } from '../checkpoint/index.js';
import { DECODE_DEFAULTS, resolveDecodeOptions } from '../options.js';
import { compiledCacheDir, defaultCacheDir, openVaeSession, resolveVaeSource } from '../model-files.js';
import { makeGrid, splitImages } from '../image/grid.js';
import { saveEach, writePng } from '../image/png.js';
import { checkWritable } from './output.js';
import { addFlags, flag, type LoadFlags } from './flags.js';

interface DecodeFlags extends Pick<LoadFlags, 'device' | 'threads' | 'dtype' | 'cache' | 'cacheDir' | 'maxMemory'> {
  vae: string;
  latents: string;
  out?: string;
  saveImages?: string;
  saveEach?: string;
  samplesPerRow?: string;
  tile?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('decode')
    .description("decode saved latents with a VAE into the PNG grid (grid.png unless --out or --save-images is given) and/or the decoder's float images as .npy")
    .addOption(flag('vae').makeOptionMandatory())
    .requiredOption('--latents <file>', 'float32 .npy latents (N, 4, h, w) as sampled (the scaling factor is divided out here, as DiT does)');
  addFlags(cmd, ['out', 'saveImages', 'saveEach', 'samplesPerRow'], { samplesPerRow: DECODE_DEFAULTS.samplesPerRow });
  cmd.option('--tile <n>', 'decode latents larger than n×n in overlapping n×n tiles with blended seams (less memory; e.g. 32)');
  addFlags(cmd, ['device', 'threads', 'dtype', 'maxMemory', 'noCache', 'cacheDir']);
  cmd.action(async (flags: DecodeFlags) => {
    const started = performance.now();
    const { samplesPerRow, tile, ...load } = resolveDecodeOptions({
      samplesPerRow: flags.samplesPerRow,
      tile: flags.tile,
      device: flags.device,
      threads: flags.threads,
      dtype: flags.dtype,
      noCache: flags.cache === false,
      cacheDir: flags.cacheDir,
      maxMemory: flags.maxMemory,
    });
    const out = flags.out ?? (flags.saveImages === undefined ? 'grid.png' : undefined);
    if (out !== undefined) checkWritable(out, { extension: '.png' });
    if (flags.saveImages !== undefined) checkWritable(flags.saveImages, { extension: '.npy', example: 'images.npy' });
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
      dtype: load.dtype,
      cacheDir: compiledCacheDir(load),
      memoryLimitBytes: load.maxMemoryBytes,
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
