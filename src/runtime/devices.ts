/**
 * The devices a user can name and the ONNX Runtime execution provider each one needs. Apart from
 * session.ts so that option validation can list them without loading onnxruntime-node.
 */
import type { DiTAttentionForm, DiTDtype } from '../models/dit-config.js';
import type { VaeDtype } from '../models/vae-config.js';

export const DEVICE_PROVIDERS = Object.freeze({
  cpu: 'cpu',
  webgpu: 'webgpu',
  cuda: 'cuda',
} as const);

export type Device = keyof typeof DEVICE_PROVIDERS;

/** The names, in the table's order (the order error messages list them in). */
export const DEVICE_NAMES: readonly Device[] = Object.freeze(Object.keys(DEVICE_PROVIDERS) as Device[]);

/** ONNX Runtime's graph optimisation levels, by its names. */
export const GRAPH_OPTIMIZATION_LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
export type GraphOptimizationLevel = (typeof GRAPH_OPTIMIZATION_LEVELS)[number];

/**
 * The devices each DiT precision runs on. q8's DynamicQuantizeMatMul is an ONNX Runtime CPU kernel
 * (the WebGPU provider has none), so q8 is CPU-only. fp16 is for GPUs: on this project's AVX2 CPU,
 * ONNX Runtime 1.30's float16 kernels compute in fp32 and gain nothing (bench/dit-dtypes.ts, one run:
 * DiT-S/2 CPU time per forward 0.580 s against fp32's 0.583 s, peak RSS 330 against 335 MB; the
 * embedded model 1.2× and DiT-XL/2 2.1× slower than fp32), while q8 is faster and smaller there.
 */
export const DTYPE_DEVICES = Object.freeze({
  fp32: DEVICE_NAMES,
  q8: Object.freeze(['cpu'] as Device[]),
  fp16: Object.freeze(['webgpu', 'cuda'] as Device[]),
} as const satisfies Record<DiTDtype, readonly Device[]>);

/**
 * The VAE decoder's precision under each --dtype, the one rule every front end follows (`dit
 * sample`/`sweep`/`serve`/`generate` and createPipeline through pipeline.ts, the page through
 * browser-pipeline.ts; `dit decode --dtype` takes the dtypes that map onto themselves here). fp16 decodes in fp16 too: on the GPUs it runs on,
 * float16 halves the decoder's memory and is their fast path, at a measured cost of about 1e-2
 * relative (bench/vae-dtypes.ts; README "Precision"). q8 decodes in fp32: int8 convolutions on
 * ONNX Runtime's CPU kernels gain 1.3× at best per convolution here, not the 2× the 0.8 s
 * target needs, and lose about 3e-2 (≈ 40 dB) on the SD VAE's shapes (bench/vae-q8.ts).
 */
export const VAE_DTYPE = Object.freeze({ fp32: 'fp32', q8: 'fp32', fp16: 'fp16' } as const satisfies Record<DiTDtype, VaeDtype>);

/**
 * The attention form each device gets unless asked otherwise. WebGPU gets MatMul/Softmax/MatMul:
 * ONNX Runtime 1.30's WebGPU MultiHeadAttention came out 5e-2 to 1e-1 (relative) from the exact
 * result once a sequence has 32 tokens or more (the embedded model's 64, DiT-XL/2-256's 256; 16
 * tokens, the dit-tiny fixture's, are right) on Mesa lavapipe, while the plain form is within 5e-7.
 */
export const DEFAULT_ATTENTION: Readonly<Record<Device, DiTAttentionForm>> = Object.freeze({ cpu: 'fused', webgpu: 'plain', cuda: 'fused' });

export function isDevice(name: string): name is Device {
  return Object.hasOwn(DEVICE_PROVIDERS, name);
}

/**
 * Working memory one VAE decode call may take by default, in GiB: a 512×512 image takes about 0.7,
 * a 160×160 latent about 5 (the attention grows with the fourth power of the side).
 */
export const DEFAULT_MAX_MEMORY_GB = 2;
