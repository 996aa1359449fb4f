/**
 * VAE decoding on ONNX Runtime: latents (N, 4, h, w) → float images (N, 3, 8h, 8w), the
 * decoder's raw output before any clamping. The decoder graph has static spatial dims, so one
 * ONNX model is built per latent size on first use (and kept in the compiled-model cache when a
 * cache folder is given); the batch dim is symbolic.
 */
import { saveModel } from '../graph/index.js';
import type { LazyTensor } from '../checkpoint/types.js';
import { buildVaeDecoder } from '../models/vae.js';
import type { VaeConfig } from '../models/vae-config.js';
import { cachedModel, fileIdentity } from './compiled-cache.js';
import { createSession, type Session, type SessionOptions } from './session.js';
import { vaeGraphChoices, vaeSessionOver, type VaeDecodeOptions, type VaeGraphChoices, type VaeSession } from './vae-run.js';

export interface VaeSource {
  readonly config: VaeConfig;
  /** Canonical (diffusers new naming) decoder weights; read while a model is being built. */
  readonly weights: ReadonlyMap<string, LazyTensor>;
  /** The weights file read; with the config it keys the compiled-model cache (path, size, mtime). */
  readonly path?: string;
  /** Latents are divided by this; default config.scaling_factor. */
  readonly scalingFactor?: number;
}

export interface VaeSessionOptions extends SessionOptions, VaeDecodeOptions, VaeGraphChoices {
  /** Compiled-model cache folder; undefined builds into a temporary folder every time. */
  readonly cacheDir?: string;
  readonly noCache?: boolean;
}

export type { VaeSession } from './vae-run.js';

/** What a decoder's compiled-model cache entry is keyed by (compiled-cache.ts cacheKey). */
export function vaeCacheParts(source: unknown, config: VaeConfig, scalingFactor: number, choices: ReturnType<typeof vaeGraphChoices>, h: number, w: number): unknown {
  return { source, config, scalingFactor, ...choices, latent: [h, w] };
}

/**
 * A decoder for `source`. Sessions are created lazily per latent size; `release()` frees them all.
 * The weights map must stay readable until `release()` (new sizes build new models).
 */
export function createVaeSession(source: VaeSource, opts: VaeSessionOptions = {}): VaeSession {
  const config = source.config;
  const scalingFactor = source.scalingFactor ?? config.scaling_factor;
  const useCache = opts.cacheDir !== undefined && !opts.noCache && source.path !== undefined;
  const identity = useCache ? fileIdentity(source.path!) : null;
  const choices = vaeGraphChoices(opts);
  const makeSession = async (h: number, w: number): Promise<Session> => {
    const model = await cachedModel(useCache ? opts.cacheDir : undefined, 'vae', vaeCacheParts(identity, config, scalingFactor, choices, h, w), async (modelPath) => {
      await saveModel(buildVaeDecoder(config, source.weights, { latentHeight: h, latentWidth: w, scalingFactor, ...choices }), modelPath);
    });
    try {
      return await createSession(model.modelPath, opts);
    } finally {
      model.cleanup();
    }
  };
  return vaeSessionOver(config, makeSession, opts);
}
