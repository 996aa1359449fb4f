/**
 * A DiT denoiser over any ONNX Runtime session (Node's or the page's): the model's inputs checked
 * and fed, its output checked. How the session was made (cache, file, bytes) is the caller's.
 */
import { assert } from '../errors.js';
import { ditOutChannels, type DiTConfig } from '../models/dit-config.js';
import type { DiTGraphOptions } from '../models/dit.js';
import { DEFAULT_ATTENTION, type Device } from './devices.js';
import type { Session } from './session-core.js';

export interface DiTSession {
  readonly config: DiTConfig;
  readonly device: Device;
  /** True when the model came from the cache (no graph build). */
  readonly fromCache: boolean;
  /** Seconds spent building and writing the graph (0 from the cache) and creating the session. */
  readonly timings: { readonly buildSeconds: number; readonly sessionSeconds: number };
  /**
   * One forward pass: x (batch, C, H, W), t (batch) timesteps (integers or fractional), y (batch)
   * labels; returns (batch, out_channels, H, W).
   */
  run(x: Float32Array, t: ArrayLike<number> | BigInt64Array, y: ArrayLike<number> | BigInt64Array, batch: number): Promise<Float32Array>;
  release(): Promise<void>;
}

/** The graph choices a DiT session is built with, whichever runtime builds it. */
export interface DiTGraphChoices {
  /** Attention form; default DEFAULT_ATTENTION for the device. */
  readonly attention?: DiTGraphOptions['attention'];
  /** Precision of the linear layers, default 'fp32' (see DiTGraphOptions.dtype). */
  readonly dtype?: DiTGraphOptions['dtype'];
  /** Other graph choices (linear form, qkv layout), mostly for benchmarks. */
  readonly graph?: Omit<DiTGraphOptions, 'attention' | 'timestepType'>;
}

/** The builder's options for those choices (timesteps as float32, so fractional ones work). */
export function ditGraphOptions(opts: DiTGraphChoices, device: Device): DiTGraphOptions {
  // fp32 adds no key, so fp32 entries cached before dtype existed stay valid.
  const { dtype: graphDtype, ...graph } = opts.graph ?? {};
  const dtype = opts.dtype ?? graphDtype ?? 'fp32';
  return { attention: opts.attention ?? DEFAULT_ATTENTION[device], ...graph, ...(dtype === 'fp32' ? {} : { dtype }), timestepType: 'float32' };
}

export function ditSessionOver(session: Session, config: DiTConfig, made: Pick<DiTSession, 'device' | 'fromCache' | 'timings'>): DiTSession {
  const C = config.in_channels;
  const S = config.input_size;
  const perSample = C * S * S;
  const outPerSample = ditOutChannels(config) * S * S;
  return {
    config,
    ...made,
    async run(x, t, y, batch) {
      assert(Number.isInteger(batch) && batch >= 1, () => `batch ${batch} must be a positive integer`);
      assert(x.length === batch * perSample, () => `x has ${x.length} values; batch ${batch} × (${C}, ${S}, ${S}) needs ${batch * perSample}`);
      assert(t.length === batch && y.length === batch, () => `t and y need ${batch} values each, got ${t.length} and ${y.length}`);
      const tf = Float32Array.from(t as ArrayLike<number | bigint>, Number);
      const yi = BigInt64Array.from(y as ArrayLike<number | bigint>, (v) => BigInt(v));
      const out = await session.run({
        x: { type: 'float32', data: x, dims: [batch, C, S, S] },
        t: { type: 'float32', data: tf, dims: [batch] },
        y: { type: 'int64', data: yi, dims: [batch] },
      });
      const o = out.out!.data;
      if (o.length !== batch * outPerSample) throw new Error(`model returned ${o.length} values, expected ${batch * outPerSample}`);
      return o;
    },
    release: () => session.release(),
  };
}
