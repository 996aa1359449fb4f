/**
 * fp16 graphs (DiT and the VAE decoder): the parts of each network that may stay in fp32 while the
 * rest runs in float16, the conversion of weights to float16 when the graph is written, and the
 * casts between the two. In the DiT the big matrix products (qkv, proj, fc1, fc2 and the GELU
 * between them) are always float16 under fp16, in the VAE the convolutions of the resnets and
 * upsamplers: they are the memory and the time.
 */
import { FLOAT16_MAX, toFloat16, type ElemType, type GraphBuilder, type Value } from '../graph/index.js';
import { UsageError } from '../errors.js';

/**
 * - sinusoids: t · frequency and its cos/sin (t reaches 999, where float16's step is 0.5);
 * - embed: patch embedding, positions, the timestep MLP, the label table, c and SiLU(c);
 * - adaLN: the adaLN modulation linears (shift, scale, gate of every block and the final layer);
 * - norm: LayerNorm and the modulate arithmetic around it;
 * - attention: the attention core (softmax(q·kᵀ)·v);
 * - residual: the residual stream (its adds and the gate products added to it);
 * - final: the final linear.
 */
export const FP16_PARTS = ['sinusoids', 'embed', 'adaLN', 'norm', 'attention', 'residual', 'final'] as const;
export type Fp16Part = (typeof FP16_PARTS)[number];

/**
 * Kept in fp32 under fp16 unless asked otherwise. Measured with real float16 arithmetic (WebGPU on
 * Mesa lavapipe; one forward, relative error against fp32, mean over t ∈ {0, 250, 500, 750, 999}):
 *
 * | kept in fp32                         | embedded model | dit-tiny |
 * |---|---|---|
 * | nothing                              | 2.7e-3 | 1.3e-3 |
 * | sinusoids                            | 2.7e-3 | 1.3e-3 |
 * | embed                                | 1.5e-3 | 1.3e-3 |
 * | sinusoids, embed, final (default)    | 1.1e-3 | 9.6e-4 |
 * | … + adaLN                            | 9.6e-4 | 9.1e-4 |
 * | … + norm                             | 1.0e-3 | 8.1e-4 |
 * | … + residual                         | 9.4e-4 | 6.9e-4 |
 * | every part (only the block linears and GELU in fp16) | 6.4e-4 | 6.7e-6 |
 *
 * The default parts cost next to nothing (one row per image for the timestep path, the final
 * linear's p²·2C outputs, the patch embedding's p²·C inputs) and cut the error by 2.5× on the
 * trained model; adaLN is a third of DiT-XL/2's weights and norm and residual add casts around every
 * block for 10–25 % less error. On the CPU (ONNX Runtime's float16 kernels compute in fp32 there)
 * every variant is within 2e-4..6e-4.
 */
export const DEFAULT_FP16_FP32_PARTS: readonly Fp16Part[] = ['sinusoids', 'embed', 'final'];

/** `data` (the weight `name`) as float16 bits; a value beyond float16's range is refused, naming the tensor. */
export function halfWeight(name: string, data: Float32Array): Uint16Array {
  const half = toFloat16(data);
  // A value beyond ±65504 becomes ±65504 (0x7bff, below 65520) or ±Inf (0x7c00): look only there.
  for (let i = 0; i < half.length; i++) {
    const m = half[i]! & 0x7fff;
    if (m >= 0x7bff && m <= 0x7c00 && Math.abs(data[i]!) > FLOAT16_MAX) {
      throw new UsageError(`checkpoint tensor "${name}" holds ${data[i]}, beyond float16's ±${FLOAT16_MAX}: this checkpoint cannot run with --dtype fp16; use --dtype fp32`);
    }
  }
  return half;
}

/** `as(v, dt)`: `v` as element type `dt` — itself, or one Cast per (value, type) shared by every use. */
export function castOnce(g: GraphBuilder): (v: Value, dt: ElemType) => Value {
  const casts = new Map<string, Value>();
  return (v, dt) => {
    if (v.dtype === dt) return v;
    const key = `${v.name}->${dt}`;
    let c = casts.get(key);
    if (!c) casts.set(key, (c = g.cast(v, dt)));
    return c;
  };
}

/** A stored weight `name` as float32 (`g.weight`) or, when `dt` is float16, as float16 bits (halfWeight). */
export function storedWeight(g: GraphBuilder, name: string, dims: readonly number[], data: () => Float32Array, dt: ElemType, checkName = name): Value {
  return dt === 'float16' ? g.initializer(name, 'float16', dims, () => halfWeight(checkName, data())) : g.weight(name, dims, data);
}

/**
 * Parts of the VAE decoder that may stay in fp32 under fp16 (everything else — the resnets' and
 * upsamplers' convolutions, the attention's projections, the residual stream — is float16):
 * - groupNorm: the statistics and affine of every GroupNorm but the last (InstanceNormalization
 *   over C/G·H·W values: 32 768 per group at 256² in the last block);
 * - attention: the mid-block attention core, softmax(q·kᵀ)·v over h·w positions;
 * - convIn: the scaling division, post_quant_conv and conv_in (latent resolution, 4 → 512 channels);
 * - convOut: the last GroupNorm, its SiLU and conv_out (full resolution, C₀ → 3 channels).
 */
export const VAE_FP16_PARTS = ['groupNorm', 'attention', 'convIn', 'convOut'] as const;
export type VaeFp16Part = (typeof VAE_FP16_PARTS)[number];

/**
 * Kept in fp32 in the VAE decoder under fp16 unless asked otherwise. Measured with real float16
 * arithmetic (WebGPU on Mesa lavapipe, bench/vae-dtypes.ts; relative error against fp32, and the
 * PSNR of images clamped to [-1, 1]): the vae-tiny fixture, and the SD VAE's shapes with random
 * weights decoding one unit-normal latent of 8×8:
 *
 * | kept in fp32              | vae-tiny | SD VAE shapes |
 * |---|---|---|
 * | nothing                   | 4.5e-3 | 1.16e-2 (48.6 dB) |
 * | groupNorm                 | 4.4e-3 | 1.10e-2 (48.9 dB) |
 * | attention                 | 4.4e-3 | 1.15e-2 (48.6 dB) |
 * | convIn                    | 4.4e-3 | 1.16e-2 (48.4 dB) |
 * | convOut (default)         | 3.6e-3 | 1.06e-2 (49.0 dB) |
 * | groupNorm, convOut        | 3.6e-3 | 1.02e-2 (49.2 dB) |
 * | every part                | 3.4e-3 | 1.05e-2 (49.0 dB) |
 *
 * At a 16×16 latent (65 536 values per GroupNorm group in the last block, a 256×256 softmax):
 * convOut 1.14e-2 (48.6 dB), + groupNorm 1.15e-2, + attention 1.15e-2; at 32×32 (256² images,
 * 262 144 values per group, a 1024×1024 softmax): convOut 1.16e-2 (48.6 dB), + attention 1.15e-2.
 *
 * The error is the float16 convolutions' own (lavapipe's shaders accumulate in float16; on the CPU,
 * where ONNX Runtime's float16 kernels compute in fp32, the same 8×8 decodes are within 5e-4..6e-4):
 * no part kept in fp32 moves it by more than 10 %, so only conv_out is, which costs nothing (3
 * output channels) and gives the most. GroupNorm statistics and the softmax in float16 showed no
 * overflow and no loss of their own at either size.
 */
export const DEFAULT_VAE_FP16_FP32_PARTS: readonly VaeFp16Part[] = ['convOut'];
