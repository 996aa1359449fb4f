/**
 * Symmetric int8 quantization of linear-layer weights, done when a graph is built (no calibration
 * data: activations are quantized by ONNX Runtime at run time). Weights arrive as PyTorch stores
 * them, (out, in) row-major; scale = max|w| / maxCode over each output row (or each block of a row),
 * code = round-half-to-even(w / scale) clamped to ±maxCode, so dequantized = code · scale.
 *
 * Two kernels use them (measured against each other in bench/q8-candidates.ts): per output channel
 * for com.microsoft.DynamicQuantizeMatMul (activations per tensor; MLAS's int8 GEMM), and per block
 * of 32 along `in` for com.microsoft.MatMulNBits (activations per block too: closer to fp32, but
 * slower than fp32 on wide matmuls here, as fast as per channel on the adaLN's two rows).
 */

/** Round half to even, as ONNX QuantizeLinear and numpy round. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface RowQuantized {
  /** Codes in ±maxCode, (out, in) like the input, or (in, out) when `transpose` was asked for. */
  readonly codes: Int8Array;
  /** One scale per output row. */
  readonly scales: Float32Array;
}

/** The scale mapping max|v| over `v[from, to)` onto `maxCode`; 1 for an all-zero range (codes are 0 either way). */
function symmetricScale(v: Float32Array, from: number, to: number, maxCode: number): number {
  let amax = 0;
  for (let i = from; i < to; i++) amax = Math.max(amax, Math.abs(v[i]!));
  return amax > 0 ? Math.fround(amax / maxCode) : 1;
}

function code(w: number, scale: number, maxCode: number): number {
  return Math.max(-maxCode, Math.min(maxCode, roundHalfEven(w / scale)));
}

/**
 * Per-output-channel symmetric quantization of an (out, in) weight. `transpose` writes the codes
 * as (in, out), the B layout of DynamicQuantizeMatMul. maxCode 127 uses the full int8 range;
 * 63 (7 bits) keeps u8·s8 pair sums within int16 (see dit.ts for when that matters).
 */
export function quantizeRows(w: Float32Array, out: number, inF: number, opts: { maxCode?: number; transpose?: boolean } = {}): RowQuantized {
  if (w.length !== out * inF) throw new Error(`weight has ${w.length} values, (${out}, ${inF}) needs ${out * inF}`);
  const maxCode = opts.maxCode ?? 127;
  const codes = new Int8Array(out * inF);
  const scales = new Float32Array(out);
  for (let r = 0; r < out; r++) {
    const s = symmetricScale(w, r * inF, (r + 1) * inF, maxCode);
    scales[r] = s;
    for (let c = 0; c < inF; c++) codes[opts.transpose ? c * out + r : r * inF + c] = code(w[r * inF + c]!, s, maxCode);
  }
  return { codes, scales };
}

export interface BlockQuantized {
  /**
   * Unsigned codes, code + zero point (2^(bits−1): 128 for 8 bits, 8 for 4), as MatMulNBits' B
   * (out, blocks, blockSize·bits/8): one code a byte for 8 bits; for 4 bits two a byte, the first
   * of each pair in the low nibble.
   */
  readonly codes: Uint8Array;
  /** One scale per (row, block), row-major (out, blocks). */
  readonly scales: Float32Array;
  readonly blocks: number;
}

/**
 * Block-wise symmetric quantization along `in` (MatMulNBits layout); a last partial block is
 * zero-padded. 8 bits: scale = max|w| / 127, codes ±127. 4 bits: as ONNX Runtime's own 4-bit
 * quantizer, the value of largest magnitude m maps onto −8 exactly (scale = m / −8) and codes are
 * clamped to [−8, 7], which uses all 16 levels.
 */
export function quantizeBlocks(w: Float32Array, out: number, inF: number, blockSize: number, bits: 4 | 8 = 8): BlockQuantized {
  if (w.length !== out * inF) throw new Error(`weight has ${w.length} values, (${out}, ${inF}) needs ${out * inF}`);
  if (bits === 4 && blockSize % 2 !== 0) throw new Error(`4-bit blocks need an even size, got ${blockSize}`);
  const blocks = Math.ceil(inF / blockSize);
  const zero = 1 << (bits - 1);
  const perBlock = (blockSize * bits) / 8;
  const codes = new Uint8Array(out * blocks * perBlock).fill(bits === 8 ? zero : zero | (zero << 4));
  const scales = new Float32Array(out * blocks);
  for (let r = 0; r < out; r++) {
    for (let b = 0; b < blocks; b++) {
      const from = r * inF + b * blockSize;
      const to = r * inF + Math.min(inF, (b + 1) * blockSize);
      const base = (r * blocks + b) * perBlock;
      if (bits === 8) {
        const s = symmetricScale(w, from, to, 127);
        scales[r * blocks + b] = s;
        for (let i = from; i < to; i++) codes[base + i - from] = zero + code(w[i]!, s, 127);
        continue;
      }
      let m = 0;
      for (let i = from; i < to; i++) if (Math.abs(w[i]!) > Math.abs(m)) m = w[i]!;
      const s = m !== 0 ? Math.fround(m / -8) : 1;
      scales[r * blocks + b] = s;
      for (let i = from; i < to; i++) {
        const c = zero + Math.max(-8, Math.min(7, roundHalfEven(w[i]! / s)));
        const j = i - from;
        const byte = base + (j >> 1);
        codes[byte] = j & 1 ? (codes[byte]! & 0x0f) | (c << 4) : (codes[byte]! & 0xf0) | c;
      }
    }
  }
  return { codes, scales, blocks };
}

/**
 * Largest weight code used in the DiT's int8 linears: 7 bits. On x86 CPUs without VNNI (AVX2 only),
 * MLAS's u8·s8 kernel adds pairs of products in int16 (vpmaddubsw), and 255·127·2 overflows it:
 * a row of full-range codes came out at half its value on this project's AVX2 machine. ±63 keeps every
 * pair sum below 2^15 on every CPU (test/graph/quantized-ops.test.ts), and activation quantization
 * dominates the error anyway (bench/q8-candidates.ts: 7-bit and 8-bit codes give the same error).
 */
export const Q8_MAX_CODE = 63;

/** The DiT's linear layers by role (official key names map onto these). */
export type Q8LayerKind = 'embed' | 'adaLN' | 'qkv' | 'proj' | 'fc1' | 'fc2' | 'final';

/** The role of the linear layer whose weight is `${prefix}.weight`. */
export function q8LayerKind(prefix: string): Q8LayerKind {
  if (prefix.startsWith('t_embedder.') || prefix.startsWith('x_embedder.')) return 'embed';
  if (prefix.endsWith('adaLN_modulation.1')) return 'adaLN';
  if (prefix === 'final_layer.linear') return 'final';
  const m = /\.(attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)$/.exec(prefix);
  if (!m) throw new Error(`no q8 layer kind for "${prefix}"`);
  return ({ 'attn.qkv': 'qkv', 'attn.proj': 'proj', 'mlp.fc1': 'fc1', 'mlp.fc2': 'fc2' } as const)[m[1] as 'attn.qkv'];
}

/**
 * Kept in fp32 under q8 unless asked otherwise (bench/q8-fidelity.ts, embedded model and dit-tiny):
 * the timestep embedder and the final linear carry most of q8's error (all linears per channel:
 * forward 9.8e-3 on the embedded model, 1.3e-2 on dit-tiny; these two in fp32: 6.4e-3, 1.3e-4)
 * and cost next to nothing to keep (the embedder sees one row per image; the final linear has 2·p²·C
 * outputs).
 */
export const DEFAULT_Q8_FP32_LAYERS: readonly Q8LayerKind[] = ['embed', 'final'];

/**
 * Quantized block-wise (MatMulNBits) rather than per channel under q8 unless asked otherwise. adaLN
 * block-wise is as close to fp32 as adaLN kept in fp32 (embedded model forward 5.6e-3 vs 5.4e-3,
 * per channel 6.4e-3; dit-tiny 9.3e-5 vs 9.0e-5) at a quarter of the memory (a third of DiT-XL/2's
 * weights are adaLN), and as fast as per channel on its two rows.
 */
export const DEFAULT_Q8_BLOCKWISE_LAYERS: readonly Q8LayerKind[] = ['adaLN'];
/**
 * A MatMulNBits weight format: bits per weight, block size along K (with accuracy level 4,
 * ONNX Runtime quantizes the activations per block of the same size, to int8), and the accuracy
 * level (1: activations stay fp32 and the weights are dequantized; 4: int8 products).
 */
export interface BlockFormat {
  readonly bits: 4 | 8;
  readonly blockSize: number;
  readonly accuracyLevel: 1 | 4;
}
/** q8's block-wise layers: 8 bits, blocks of 32, int8 products. */
export const Q8_BLOCK_FORMAT: BlockFormat = Object.freeze({ bits: 8, blockSize: 32, accuracyLevel: 4 });
