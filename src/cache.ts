/**
 * The model cache folder: downloaded official weights and compiled ONNX models.
 *   <cache>/models/DiT-XL-2-256x256.pt        official DiT checkpoints (dit download)
 *   <cache>/vae/sd-vae-ft-ema/                 diffusers VAE folders (config.json + weights)
 *   <cache>/compiled/                          ONNX models built from checkpoints (runtime cache)
 * <cache> is $DIT_CACHE_DIR, else $XDG_CACHE_HOME/dit-ts, else ~/.cache/dit-ts.
 */
import os from 'node:os';
import path from 'node:path';

export function defaultCacheDir(): string {
  if (process.env.DIT_CACHE_DIR) return path.resolve(process.env.DIT_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'dit-ts');
}

export function cachePaths(cacheDir: string = defaultCacheDir()) {
  return {
    root: cacheDir,
    models: path.join(cacheDir, 'models'),
    vae: path.join(cacheDir, 'vae'),
    compiled: path.join(cacheDir, 'compiled'),
  };
}
