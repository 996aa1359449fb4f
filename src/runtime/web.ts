/**
 * ONNX Runtime in the browser (onnxruntime-web): the page's side of runtime/, beside session.ts
 * (onnxruntime-node). Two builds, loaded on demand so the page downloads only one: WASM (the CPU,
 * multi-threaded when the page is cross-origin isolated) and WebGPU (when the browser has an
 * adapter). Sessions are made from in-memory model bytes (a page has no files) and wrapped by
 * session-core.ts exactly as Node's are, so the pipeline above cannot tell them apart.
 */
import type * as OrtWeb from 'onnxruntime-web';
import { DitError } from '../errors.js';
import { buildDiTGraph, type DiTConfig, type DiTWeights } from '../models/dit.js';
import { encodeModel } from '../graph/encode.js';
import { ditGraphOptions, ditSessionOver, type DiTGraphChoices, type DiTSession } from './dit-run.js';
import { wrapOrtSession, type Session } from './session-core.js';
import { buildVaeDecoder } from '../models/vae.js';
import type { VaeConfig } from '../models/vae-config.js';
import type { LazyTensor } from '../checkpoint/types.js';
import { vaeGraphChoices, vaeSessionOver, type VaeGraphChoices, type VaeSession } from './vae-run.js';

/** The page's execution back ends: onnxruntime-web's CPU build or its WebGPU build. */
export const WEB_BACKENDS = ['wasm', 'webgpu'] as const;
export type WebBackend = (typeof WEB_BACKENDS)[number];

export interface WebSessionOptions {
  readonly backend: WebBackend;
  /** WASM threads; default: defaultWasmThreads(). */
  readonly threads?: number;
}

/**
 * The page's WASM threads when none are asked for: every logical core up to 4 in a cross-origin
 * isolated page (else 1: threads need SharedArrayBuffer). onnxruntime-web's own default, min(4,
 * ceil(cores / 2)), assumes two hardware threads per core and gives a 2-core machine one thread: the
 * embedded model's 8 images × 100 steps took 30.3 s there against 20.1 s on 2 (bench/site.ts,
 * headless Chromium, this project's 2-core EPYC, quiet). Above 7 cores both rules give 4.
 */
export function defaultWasmThreads(logicalCores: number | undefined, isolated: boolean): number {
  return isolated ? Math.max(1, Math.min(4, Math.floor(logicalCores ?? 1))) : 1;
}

const bindings = new Map<WebBackend, Promise<typeof OrtWeb>>();

/** The onnxruntime-web build for `backend`, imported once. */
export function loadOrt(backend: WebBackend): Promise<typeof OrtWeb> {
  let p = bindings.get(backend);
  if (!p) {
    p = backend === 'webgpu' ? import('onnxruntime-web/webgpu') : import('onnxruntime-web/wasm');
    bindings.set(backend, p);
  }
  return p;
}

/** The most bytes a gzip copy of onnxruntime-web's WASM may inflate to (its WebGPU build has 26.8 MB). */
export const MAX_WASM_BYTES = 64 << 20;

const GZIP_MAGIC = [0x1f, 0x8b];
const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d]; // "\0asm"

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}

/**
 * A WASM module's bytes from what the page fetched as its gzip copy (`NAME.wasm.gz`): inflated
 * with the standard DecompressionStream, at most `maxBytes` of them; or as they are where the host
 * sent the copy with `Content-Encoding: gzip` (Apache's `AddEncoding x-gzip .gz`), so the browser
 * inflated it already. Throws on anything else (a host's HTML page for a missing file, a truncated
 * copy): the caller then lets onnxruntime-web fetch the plain `.wasm`.
 */
export async function wasmFromGzipCopy(bytes: Uint8Array<ArrayBuffer>, maxBytes = MAX_WASM_BYTES): Promise<Uint8Array> {
  if (startsWith(bytes, WASM_MAGIC)) return bytes;
  if (!startsWith(bytes, GZIP_MAGIC)) throw new DitError(`a gzip copy of a WASM file starts with 1f 8b, but this one starts with ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`);
  const reader = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new DitError(`a gzip copy of a WASM file inflates to more than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  if (!startsWith(out, WASM_MAGIC)) throw new DitError('a gzip copy of a WASM file inflates to something that is not WebAssembly (no "\\0asm")');
  return out;
}

/**
 * The WASM bytes from the gzip copy at `gzipUrl`, fetched as an ordinary file; undefined where the
 * page should let onnxruntime-web fetch the plain `.wasm` instead: no DecompressionStream in this
 * browser, the copy missing (an error status), or not a gzip of WebAssembly (a host's page for a
 * missing file, a broken copy: reported on the console).
 */
export async function fetchWasmFromGzipCopy(gzipUrl: string, fetchFile: typeof fetch = fetch): Promise<Uint8Array | undefined> {
  if (typeof DecompressionStream === 'undefined') return undefined;
  try {
    const res = await fetchFile(gzipUrl);
    if (!res.ok) return undefined;
    return await wasmFromGzipCopy(new Uint8Array(await res.arrayBuffer()));
  } catch (err) {
    console.warn(`${gzipUrl}: ${(err as Error).message}; loading the plain .wasm instead`);
    return undefined;
  }
}

/** Where onnxruntime-web's WASM comes from: its gzip copy, inflated in the page, or the plain file, fetched by ORT. */
export type OrtWasmFrom = 'gzip copy' | 'plain file';

const wasmBinaries = new Map<WebBackend, Promise<OrtWasmFrom>>();

/**
 * Gives `backend`'s onnxruntime-web build its WASM from the file's gzip copy at `gzipUrl`
 * (fetchWasmFromGzipCopy), once per backend; call it before the backend's first session. ORT's
 * 14.2 MB WASM is then a 3.7 MB download from any static host, whether or not it compresses. ORT
 * compiles the bytes once and hands the compiled module to its thread workers. Where the copy
 * cannot be used nothing is set, and ORT fetches the plain `.wasm` beside it, as without this.
 */
export function provideOrtWasm(backend: WebBackend, gzipUrl: string): Promise<OrtWasmFrom> {
  let p = wasmBinaries.get(backend);
  if (!p) {
    p = Promise.all([loadOrt(backend), fetchWasmFromGzipCopy(gzipUrl)]).then(([ort, bytes]) => {
      if (!bytes) return 'plain file';
      ort.env.wasm.wasmBinary = bytes;
      return 'gzip copy';
    });
    wasmBinaries.set(backend, p);
  }
  return p;
}

interface GpuAdapterLike {
  readonly isFallbackAdapter?: boolean;
  readonly info?: { readonly isFallbackAdapter?: boolean; readonly architecture?: string };
}

/**
 * Whether this browser has a WebGPU adapter worth using: a hardware one. A fallback adapter (a CPU
 * implementation such as SwiftShader) is slower than onnxruntime-web's WASM, so it does not count.
 */
export async function hasWebGpuAdapter(): Promise<boolean> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } } }).navigator?.gpu;
  if (!gpu) return false;
  try {
    const a = await gpu.requestAdapter();
    return a != null && !a.isFallbackAdapter && !a.info?.isFallbackAdapter && a.info?.architecture !== 'swiftshader';
  } catch {
    return false;
  }
}

/** A session from model bytes on `backend`. */
export async function createWebSession(model: Uint8Array, opts: WebSessionOptions): Promise<Session> {
  const ort = await loadOrt(opts.backend);
  if (opts.backend === 'wasm' || opts.threads !== undefined) {
    const g = globalThis as { navigator?: { hardwareConcurrency?: number }; crossOriginIsolated?: boolean };
    ort.env.wasm.numThreads = opts.threads ?? defaultWasmThreads(g.navigator?.hardwareConcurrency, g.crossOriginIsolated === true);
  }
  ort.env.logLevel = 'error';
  let session: OrtWeb.InferenceSession;
  try {
    session = await ort.InferenceSession.create(model, {
      executionProviders: [opts.backend],
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
  } catch (err) {
    throw new DitError(`onnxruntime-web (${opts.backend}) could not load the ${model.byteLength}-byte model: ${(err as Error).message}`);
  }
  return wrapOrtSession(ort, session);
}

/** The device a backend runs on, as the graph choices name it (DEFAULT_ATTENTION's keys). */
export function webDevice(backend: WebBackend): 'webgpu' | 'cpu' {
  return backend === 'webgpu' ? 'webgpu' : 'cpu';
}

/**
 * The DiT denoiser built in the page: the same graph builder as Node's, encoded with its weights
 * inline (a page has no external-data files), run by onnxruntime-web.
 */
export async function createWebDiTSession(source: { readonly config: DiTConfig; readonly weights: DiTWeights }, opts: WebSessionOptions & DiTGraphChoices): Promise<DiTSession> {
  const t0 = performance.now();
  const device = webDevice(opts.backend);
  const model = encodeModel(buildDiTGraph(source.config, source.weights, ditGraphOptions(opts, device)));
  const t1 = performance.now();
  const session = await createWebSession(model, opts);
  const t2 = performance.now();
  // onnxruntime-web's WASM runs a model synchronously inside run(): yielding to the event loop
  // before each forward lets the worker see a cancel message between steps.
  const yielding: Session = { ...session, run: async (feeds) => (await new Promise((resolve) => setTimeout(resolve, 0)), session.run(feeds)) };
  return ditSessionOver(yielding, source.config, {
    device,
    fromCache: false,
    timings: { buildSeconds: (t1 - t0) / 1000, sessionSeconds: (t2 - t1) / 1000 },
  });
}

/** The VAE decoder built in the page, one model per latent size on first use (as Node's, without the cache). */
export function createWebVaeSession(
  source: { readonly config: VaeConfig; readonly weights: ReadonlyMap<string, LazyTensor>; readonly scalingFactor?: number },
  opts: WebSessionOptions & VaeGraphChoices,
): VaeSession {
  const scalingFactor = source.scalingFactor ?? source.config.scaling_factor;
  const choices = vaeGraphChoices(opts);
  return vaeSessionOver(
    source.config,
    (h, w) => createWebSession(encodeModel(buildVaeDecoder(source.config, source.weights, { latentHeight: h, latentWidth: w, scalingFactor, ...choices })), opts),
    {},
  );
}
