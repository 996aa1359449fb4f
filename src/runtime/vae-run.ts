/**
 * VAE decoding over any ONNX Runtime sessions (Node's or the page's): latents (N, 4, h, w) →
 * float images (N, 3, 8h, 8w), the decoder's raw output before any clamping, in batches that stay
 * under a memory limit, whole or in tiles. The caller makes one session per latent size.
 */
import { assert, UsageError } from '../errors.js';
import { vaeDecodeBytes, type VaeDecoderOptions } from '../models/vae.js';
import { DEFAULT_VAE_FP16_FP32_PARTS } from '../models/fp16.js';
import { vaeUpscale, type VaeConfig, type VaeDtype } from '../models/vae-config.js';
import { DEFAULT_MAX_MEMORY_GB } from './devices.js';
import type { Session } from './session-core.js';
import { decodeTiled, type FloatBatch, type TileOptions } from './vae-tiles.js';

export interface VaeSession {
  readonly config: VaeConfig;
  /** Latents (N, C, h, w) in DiT's latent space (the graph divides by the scaling factor). */
  decode(latents: Float32Array, shape: readonly [number, number, number, number]): Promise<FloatBatch>;
  release(): Promise<void>;
}

export interface VaeDecodeOptions {
  /** Images decoded per ONNX Runtime call; bounds peak memory for big batches (default 4). */
  readonly maxBatch?: number;
  /**
   * Working memory one ONNX Runtime call may take (estimated by vaeDecodeBytes; default
   * DEFAULT_MAX_MEMORY_GB): fewer images go per call to stay under it, and a latent whose single
   * image is over it is refused with the way out (tiles), instead of eating the machine's memory.
   */
  readonly memoryLimitBytes?: number;
  /**
   * Decode latents larger than the tile in overlapping tiles with blended seams (diffusers'
   * tiled_decode); undefined decodes whole, exactly as DiT does.
   */
  readonly tile?: TileOptions;
}

/** The decoder graph choices a session is built with, whichever runtime builds it. */
export interface VaeGraphChoices {
  /** How "nearest ×2, then 3×3 conv" is computed, for benchmarks (see VaeDecoderOptions). */
  readonly upsample?: VaeDecoderOptions['upsample'];
  /** Precision of the decoder graph, default 'fp32' (see VaeDecoderOptions.dtype; runtime/devices.ts VAE_DTYPE). */
  readonly dtype?: VaeDtype;
  /** With fp16, the parts kept in fp32 (default DEFAULT_VAE_FP16_FP32_PARTS), for benchmarks. */
  readonly fp16KeepFp32?: VaeDecoderOptions['fp16KeepFp32'];
}

/**
 * The builder's options (other than the latent size) for those choices; also the cache key besides
 * the source. fp32 adds no key, so fp32 entries cached before dtype existed stay valid.
 */
export function vaeGraphChoices(opts: VaeGraphChoices): Pick<VaeDecoderOptions, 'upsample' | 'dtype' | 'fp16KeepFp32'> {
  const fp16 = opts.dtype === 'fp16' ? { dtype: opts.dtype, fp16KeepFp32: opts.fp16KeepFp32 ?? DEFAULT_VAE_FP16_FP32_PARTS } : {};
  return { upsample: opts.upsample, ...fp16 };
}

const DEFAULT_VAE_MEMORY_LIMIT = DEFAULT_MAX_MEMORY_GB * 2 ** 30;

const gb = (bytes: number): string => (bytes < 2 ** 30 ? `${(bytes / 2 ** 20).toFixed(1)} MB` : `${(bytes / 2 ** 30).toFixed(1)} GB`);

/**
 * A decoder whose model for a latent size comes from `makeSession(h, w)`, called once per size on
 * first use; release() frees them all.
 */
export function vaeSessionOver(config: VaeConfig, makeSession: (h: number, w: number) => Promise<Session>, opts: VaeDecodeOptions): VaeSession {
  const maxBatch = opts.maxBatch ?? 4;
  assert(Number.isInteger(maxBatch) && maxBatch >= 1, () => `VAE maxBatch ${maxBatch} must be a whole number ≥ 1`);
  const sessions = new Map<string, Promise<Session>>();
  const sessionFor = (h: number, w: number): Promise<Session> => {
    const key = `${h}x${w}`;
    let s = sessions.get(key);
    if (!s) {
      s = makeSession(h, w);
      sessions.set(key, s);
    }
    return s;
  };
  const memoryLimit = opts.memoryLimitBytes ?? DEFAULT_VAE_MEMORY_LIMIT;

  /** One whole decode, in chunks of at most maxBatch images that stay under the memory limit. */
  const decodeWhole = async (latents: Float32Array, shape: readonly [number, number, number, number]): Promise<FloatBatch> => {
    const [n, c, h, w] = shape;
    const perCall = Math.min(maxBatch, Math.floor(memoryLimit / vaeDecodeBytes(config, h, w)));
    if (perCall < 1) {
      throw new UsageError(
        `decoding a ${h}×${w} latent whole needs about ${gb(vaeDecodeBytes(config, h, w))} (the VAE's attention grows with (h·w)²), over the ${gb(memoryLimit)} limit; decode it in tiles (dit decode --tile 32) or raise the limit (--max-memory GB)`,
      );
    }
    const session = await sessionFor(h, w);
    const f = vaeUpscale(config);
    const perLatent = c * h * w;
    const perImage = config.out_channels * h * f * w * f;
    const out = new Float32Array(n * perImage);
    for (let start = 0; start < n; start += perCall) {
      const b = Math.min(perCall, n - start);
      const result = await session.run({
        latents: { type: 'float32', data: latents.subarray(start * perLatent, (start + b) * perLatent), dims: [b, c, h, w] },
      });
      out.set(result.image!.data, start * perImage);
    }
    return { data: out, shape: [n, config.out_channels, h * f, w * f] };
  };

  return {
    config,
    async decode(latents, shape) {
      const [n, c, h, w] = shape;
      if (c !== config.latent_channels) {
        throw new UsageError(`latents have ${c} channels (shape [${shape.join(', ')}]); this VAE decodes ${config.latent_channels}-channel latents (N, ${config.latent_channels}, h, w)`);
      }
      if (![n, h, w].every((d) => Number.isInteger(d) && d >= 1)) {
        throw new UsageError(`latents of shape [${shape.join(', ')}] hold no image: N, h and w must each be at least 1`);
      }
      if (latents.length !== n * c * h * w) {
        throw new UsageError(`latents hold ${latents.length} values but shape [${shape.join(', ')}] needs ${n * c * h * w}; expected (N, ${c}, h, w)`);
      }
      const tile = opts.tile;
      if (tile && (h > tile.latentTile || w > tile.latentTile)) return decodeTiled(latents, shape, vaeUpscale(config), decodeWhole, tile);
      return decodeWhole(latents, shape);
    },
    async release() {
      const all = [...sessions.values()];
      sessions.clear();
      for (const s of all) await (await s).release();
    },
  };
}

/** `session`, whose release() also closes the weights file it builds new latent sizes from. */
export function closingWeights(session: VaeSession, weights: { close(): void }): VaeSession {
  return {
    config: session.config,
    decode: (latents, shape) => session.decode(latents, shape),
    async release() {
      try {
        await session.release();
      } finally {
        weights.close();
      }
    },
  };
}
