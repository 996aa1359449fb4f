/**
 * VAE decoding on ONNX Runtime: latents (N, 4, h, w) → float images (N, 3, 8h, 8w), the
 * decoder's raw output before any clamping. The decoder graph has static spatial dims, so one
 * ONNX model is built per latent size on first use (and kept in the compiled-model cache when a
 * cache folder is given); the batch dim is symbolic.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { saveModel } from '../graph/index.js';
import type { LazyTensor } from '../checkpoint/types.js';
import { buildVaeDecoder } from '../models/vae.js';
import type { VaeConfig } from '../models/vae-config.js';
import { cachedModel, fileIdentity, type CachedModel } from './compiled-cache.js';
import {
  canStoreOptimized,
  createSession,
  optimizedModelTarget,
  saveOptimizedModel,
  storedOptimizedOptions,
  type Session,
  type SessionOptions,
} from './session.js';
import { vaeGraphChoices, vaeSessionOver, type VaeDecodeOptions, type VaeGraphChoices, type VaeSession } from './vae-run.js';

export interface VaeSource {
  readonly config: VaeConfig;
  /** Canonical (diffusers new naming) decoder weights; read while a model is being built. */
  readonly weights: ReadonlyMap<string, LazyTensor>;
  /** The weights file read; with the config it keys the compiled-model cache (fileIdentity). */
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
    const { model, sessionOptions } = await cachedVaeModel(useCache ? opts.cacheDir : undefined, vaeCacheParts(identity, config, scalingFactor, choices, h, w), async (modelPath) => {
      await saveModel(buildVaeDecoder(config, source.weights, { latentHeight: h, latentWidth: w, scalingFactor, ...choices }), modelPath);
    }, opts);
    try {
      return await createSession(model.modelPath, sessionOptions);
    } finally {
      model.cleanup();
    }
  };
  return vaeSessionOver(config, makeSession, opts);
}

/**
 * A decoder's compiled-model cache entry and the options to open it with. In a cache folder, on the
 * CPU at level 'all', the entry holds the model as ONNX Runtime optimised it for this CPU and ONNX
 * Runtime version (both in its key), opened without a second optimisation: the first decode of a
 * process then skips the layout transform (0.39 s of CPU here). Entries written before, keyed
 * without the target, are not reused by the CPU (other devices still open them).
 */
export async function cachedVaeModel(
  cacheDir: string | undefined,
  parts: unknown,
  writeGraph: (modelPath: string) => Promise<void>,
  opts: SessionOptions,
): Promise<{ model: CachedModel; sessionOptions: SessionOptions }> {
  if (cacheDir === undefined || !canStoreOptimized(opts)) return { model: await cachedModel(cacheDir, 'vae', parts, writeGraph), sessionOptions: opts };
  const target = optimizedModelTarget();
  const model = await cachedModel(
    cacheDir,
    'vae',
    { ...(parts as object), optimizedFor: target },
    async (modelPath) => {
      const graphPath = path.join(path.dirname(modelPath), 'graph.onnx');
      try {
        await writeGraph(graphPath);
        await saveOptimizedModel(graphPath, modelPath, opts);
      } finally {
        rmSync(graphPath, { force: true });
        rmSync(`${graphPath}.data`, { force: true });
      }
    },
    // The same decoder optimised for this CPU by another ONNX Runtime version is dead weight once this
    // one is built (entries for other CPUs stay: a cache folder may be shared between machines).
    (other) => {
      const { optimizedFor, ...rest } = (other ?? {}) as { optimizedFor?: { cpu?: string } };
      return optimizedFor?.cpu === target.cpu && JSON.stringify(rest) === JSON.stringify(parts);
    },
  );
  return { model, sessionOptions: storedOptimizedOptions(opts) };
}
