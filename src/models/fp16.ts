/**
 * fp16 DiT graphs: the parts of the network that may stay in fp32 while the rest runs in float16,
 * and the conversion of weights to float16 when the graph is written. The big matrix products
 * (qkv, proj, fc1, fc2 and the GELU between them) are always float16 under fp16: they are the
 * memory and the time.
 */
import { FLOAT16_MAX, toFloat16 } from '../graph/index.js';
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
  for (let i = 0; i < data.length; i++) {
    if (Math.abs(data[i]!) > FLOAT16_MAX) {
      throw new UsageError(`checkpoint tensor "${name}" holds ${data[i]}, beyond float16's ±${FLOAT16_MAX}: this checkpoint cannot run with --dtype fp16; use --dtype fp32`);
    }
  }
  return toFloat16(data);
}
