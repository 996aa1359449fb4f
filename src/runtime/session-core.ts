/**
 * What every ONNX Runtime binding gives the rest of dit-ts: the Session interface, and the one
 * wrapper from an ONNX Runtime session (onnxruntime-node or onnxruntime-web: both implement
 * onnxruntime-common's API) to it. No binding is imported here, so the page bundles this file too.
 */
import { DitError } from '../errors.js';
import type { Device, GraphOptimizationLevel } from './devices.js';

export interface SessionOptions {
  /** Execution device; default 'cpu'. */
  readonly device?: Device;
  /** Intra-op threads (CPU); default: ONNX Runtime's choice (one per physical core). */
  readonly threads?: number;
  /** Default 'all'. */
  readonly graphOptimizationLevel?: GraphOptimizationLevel;
  /** CPU memory arena; default true. */
  readonly enableCpuMemArena?: boolean;
  /** Write ONNX Runtime's per-node profile to `<prefix>_<date>.json` (written by endProfiling()). */
  readonly profileFilePrefix?: string;
  /** ONNX Runtime log level 0 (verbose) .. 4 (fatal); default 3 (errors only). */
  readonly logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
}

export interface NamedTensor {
  readonly type: 'float32' | 'int64' | 'int32';
  readonly data: Float32Array | BigInt64Array | Int32Array;
  readonly dims: readonly number[];
}

/** A loaded model: run by input name, get float32 outputs by name. */
export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Readonly<Record<string, NamedTensor>>): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>>;
  /** Ends profiling and writes the profile file (see SessionOptions.profileFilePrefix). */
  endProfiling(): void;
  release(): Promise<void>;
}

/** The part of an ONNX Runtime binding's API that wrapOrtSession uses. */
export interface OrtBinding<T> {
  readonly Tensor: new (type: NamedTensor['type'], data: NamedTensor['data'], dims: readonly number[]) => T;
}

/** The part of an ONNX Runtime InferenceSession that wrapOrtSession uses. */
export interface OrtSession<T> {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, T>): Promise<Record<string, { readonly type: string; readonly data: unknown; readonly dims: readonly number[] }>>;
  endProfiling(): void;
  release(): Promise<void>;
}

export function wrapOrtSession<T>(ort: OrtBinding<T>, session: OrtSession<T>): Session {
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds) {
      const ortFeeds: Record<string, T> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const results = await session.run(ortFeeds);
      const out: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
      for (const [name, t] of Object.entries(results)) {
        if (t.type !== 'float32') throw new DitError(`model output "${name}" is ${t.type}; expected float32`);
        out[name] = { data: t.data as Float32Array, dims: t.dims };
      }
      return out;
    },
    endProfiling: () => session.endProfiling(),
    release: () => session.release(),
  };
}
