/**
 * A DiT denoiser on ONNX Runtime: builds the graph (or takes it from the compiled-model cache),
 * writes it with external data, and opens the session from the file so the weights are held once.
 */
import { saveModel } from '../graph/index.js';
import { buildDiTGraph, ditOutChannels, type DiTConfig, type DiTGraphOptions, type DiTWeights } from '../models/dit.js';
import { assert } from '../errors.js';
import { cachedModel, fileIdentity } from './compiled-cache.js';
import { createSession, type Device, type SessionOptions } from './session.js';
import { DEFAULT_ATTENTION } from './devices.js';

export interface DiTModelSource {
  readonly config: DiTConfig;
  readonly weights: DiTWeights;
  /** The checkpoint file the weights came from; the cache is keyed by its path, size and mtime. */
  readonly path?: string;
}

export interface DiTSessionOptions extends SessionOptions {
  /** Compiled-model cache folder; undefined builds into a temporary folder every time. */
  readonly cacheDir?: string;
  /** Bypass the cache even when cacheDir is set. */
  readonly noCache?: boolean;
  /** Attention form; default DEFAULT_ATTENTION for the device. */
  readonly attention?: DiTGraphOptions['attention'];
  /** Precision of the linear layers, default 'fp32' (see DiTGraphOptions.dtype). */
  readonly dtype?: DiTGraphOptions['dtype'];
  /** Other graph choices (linear form, qkv layout), mostly for benchmarks. */
  readonly graph?: Omit<DiTGraphOptions, 'attention' | 'timestepType'>;
}

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

export async function createDiTSession(source: DiTModelSource, opts: DiTSessionOptions = {}): Promise<DiTSession> {
  const config = source.config;
  // fp32 adds no key, so fp32 entries cached before dtype existed stay valid.
  const { dtype: graphDtype, ...graph } = opts.graph ?? {};
  const dtype = opts.dtype ?? graphDtype ?? 'fp32';
  const graphOptions: DiTGraphOptions = { attention: opts.attention ?? DEFAULT_ATTENTION[opts.device ?? 'cpu'], ...graph, ...(dtype === 'fp32' ? {} : { dtype }), timestepType: 'float32' };
  const useCache = opts.cacheDir !== undefined && !opts.noCache && source.path !== undefined;
  const t0 = performance.now();
  let built = false;
  const identity = useCache ? fileIdentity(source.path!) : null;
  const rest = JSON.stringify({ config, graphOptions });
  const model = cachedModel(
    useCache ? opts.cacheDir : undefined,
    'dit',
    { source: identity, config, graphOptions },
    (modelPath) => {
      saveModel(buildDiTGraph(config, source.weights, graphOptions), modelPath);
      built = true;
    },
    // An entry built from an older version of the same file, with the same options, is dead weight.
    (other) => {
      const o = other as { source?: { path?: string }; config?: unknown; graphOptions?: unknown } | undefined;
      return o?.source?.path === identity?.path && JSON.stringify({ config: o?.config, graphOptions: o?.graphOptions }) === rest;
    },
  );
  const t1 = performance.now();
  let session;
  try {
    session = await createSession(model.modelPath, opts);
  } finally {
    model.cleanup();
  }
  const t2 = performance.now();

  const C = config.in_channels;
  const S = config.input_size;
  const perSample = C * S * S;
  const outPerSample = ditOutChannels(config) * S * S;
  const ready = session;
  return {
    config,
    device: opts.device ?? 'cpu',
    fromCache: model.fromCache,
    timings: { buildSeconds: built ? (t1 - t0) / 1000 : 0, sessionSeconds: (t2 - t1) / 1000 },
    async run(x, t, y, batch) {
      assert(Number.isInteger(batch) && batch >= 1, () => `batch ${batch} must be a positive integer`);
      assert(x.length === batch * perSample, () => `x has ${x.length} values; batch ${batch} × (${C}, ${S}, ${S}) needs ${batch * perSample}`);
      assert(t.length === batch && y.length === batch, () => `t and y need ${batch} values each, got ${t.length} and ${y.length}`);
      const tf = Float32Array.from(t as ArrayLike<number | bigint>, Number);
      const yi = BigInt64Array.from(y as ArrayLike<number | bigint>, (v) => BigInt(v));
      const out = await ready.run({
        x: { type: 'float32', data: x, dims: [batch, C, S, S] },
        t: { type: 'float32', data: tf, dims: [batch] },
        y: { type: 'int64', data: yi, dims: [batch] },
      });
      const o = out.out!.data;
      if (o.length !== batch * outPerSample) throw new Error(`model returned ${o.length} values, expected ${batch * outPerSample}`);
      return o;
    },
    release: () => ready.release(),
  };
}
