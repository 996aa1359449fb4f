/**
 * The DiT compute graph (Peebles & Xie 2023, facebookresearch/DiT models.py), built as ONNX from a
 * config and weights under the official key names. No I/O here: weights come through a getter, and
 * are only read when the graph is written (graph/save.ts streams them one tensor at a time).
 *
 * Inputs x (N, C, H, W) float32, t (N) float32 or int64 (the original, unrespaced timestep),
 * y (N) int64 (num_classes = the null class); output (N, out_channels, H, W).
 *
 * Exact rewrites made at build time (same function, cheaper graph):
 * - qkv is split into three Linear layers (no Split copy); the attention scale head_dim^-0.5 is
 *   folded into the q weights and bias.
 * - modulate's `1 + scale` is folded into the adaLN bias of the scale chunks.
 * - fc1's bias rides in the fused GELU (com.microsoft.FastGelu, tanh approximation).
 */
import { GraphBuilder, toFloat16, type ElemType, type Graph, type Value } from '../graph/index.js';
import type { StateDict } from '../checkpoint/types.js';
import { ditMlpWidth, ditOutChannels, type DiTAttentionForm, type DiTConfig, type DiTDtype } from './dit-config.js';
import { ditParameterShapes, TIMESTEP_FREQUENCY_DIM as FREQ_DIM } from './dit-shapes.js';
import { assert, UsageError } from '../errors.js';
import { castOnce, DEFAULT_FP16_FP32_PARTS, storedWeight, type Fp16Part } from './fp16.js';
import { DEFAULT_Q8_BLOCKWISE_LAYERS, DEFAULT_Q8_FP32_LAYERS, q8LayerKind, quantizeBlocks, quantizeRows, Q8_BLOCK_FORMAT, Q8_MAX_CODE, type BlockFormat, type Q8LayerKind } from './quantize.js';

export { DIT_VARIANTS, ditConfigFor, ditOutChannels } from './dit-config.js';
export { ditParameterShapes } from './dit-shapes.js';
export type { DiTConfig, DiTVariantName } from './dit-config.js';

/** Weights by canonical (official) key name: a state dict, or a function returning float32 data. */
export type DiTWeights = StateDict | ((name: string) => Float32Array);

export interface DiTGraphOptions {
  /** 'fused': one com.microsoft.MultiHeadAttention node (CPU, WebGPU); 'plain': MatMul/Softmax/MatMul. */
  readonly attention?: DiTAttentionForm;
  /** 'gemm': Gemm with transB (bias fused, weights as stored); 'matmul': MatMul on transposed weights + Add. */
  readonly linear?: 'gemm' | 'matmul';
  /** 'split': q, k, v as three Linear layers; 'packed': one qkv Linear then Split (as the checkpoint stores it). */
  readonly qkv?: 'split' | 'packed';
  /** Element type of the t input. */
  readonly timestepType?: 'float32' | 'int64';
  /** A fixed batch size, or undefined for a symbolic batch dim "N". */
  readonly batch?: number;
  /**
   * Precision: 'fp32' (default, exact); 'q8': int8 linear weights quantized when the graph is built
   * (quantize.ts), activations quantized by ONNX Runtime at run time; 'fp16': float16 weights and
   * compute, with the parts in `fp16KeepFp32` in fp32 (fp16.ts). Inputs and output stay float32.
   */
  readonly dtype?: DiTDtype;
  /** With fp16, the parts kept in fp32 (default DEFAULT_FP16_FP32_PARTS). */
  readonly fp16KeepFp32?: readonly Fp16Part[];
  /** With q8, the linear layers kept in fp32 (default DEFAULT_Q8_FP32_LAYERS). */
  readonly q8KeepFp32?: readonly Q8LayerKind[];
  /** With q8, layers quantized block-wise (MatMulNBits in `blockFormat`) instead of per channel. */
  readonly q8Blockwise?: readonly Q8LayerKind[];
  /** With q8, the MatMulNBits format of the block-wise layers (default Q8_BLOCK_FORMAT: 8 bits, blocks of 32, int8 compute). */
  readonly blockFormat?: BlockFormat;
}

const LN_EPS = 1e-6;
const MAX_PERIOD = 10000;

/** Sinusoid frequencies exactly as PyTorch computes them in float32: exp(-ln(10000)·i/128). */
export function timestepFrequencies(dim = FREQ_DIM): Float32Array {
  const half = dim / 2;
  const f = new Float32Array(half);
  const c = Math.fround(-Math.log(MAX_PERIOD));
  for (let i = 0; i < half; i++) f[i] = Math.exp(Math.fround(Math.fround(c * i) / half));
  return f;
}

/** Operations of one forward pass, a multiply-add counted as 2 (matmuls, convs, attention). */
export function ditForwardOps(c: DiTConfig, batch: number): number {
  const D = c.hidden_size;
  const T = (c.input_size / c.patch_size) ** 2;
  const patchIn = c.in_channels * c.patch_size ** 2;
  const mlp = ditMlpWidth(c);
  const perBlock = T * (3 * D * D + D * D + 2 * D * mlp) + 2 * T * T * D + D * 6 * D;
  const macs = T * D * patchIn + FREQ_DIM * D + D * D + c.depth * perBlock + D * 2 * D + T * D * patchIn * (ditOutChannels(c) / c.in_channels);
  return 2 * batch * macs;
}

/**
 * Configs come from checkpoint/dit-infer.ts (which refuses, where the file is read, a hidden size
 * that is no multiple of 4, heads that do not divide it, an input size that is no multiple of the
 * patch) or from the variant table: a config that breaks these here is a bug.
 */
function validateConfig(c: DiTConfig): void {
  assert(c.input_size % c.patch_size === 0, () => `DiT config: input_size ${c.input_size} is not a multiple of patch_size ${c.patch_size}`);
  assert(c.hidden_size % c.num_heads === 0, () => `DiT config: hidden_size ${c.hidden_size} does not divide by num_heads ${c.num_heads}`);
  assert(c.hidden_size % 4 === 0, () => `DiT config: hidden_size ${c.hidden_size} must be a multiple of 4 (2-D sin-cos positions)`);
}

/**
 * The MLP width is what the weights have (fc1's rows); the table's int(hidden × mlp_ratio) must agree,
 * checked now rather than when the graph is written, since every other shape follows from the config.
 */
function checkMlpWidth(c: DiTConfig, weights: DiTWeights): void {
  if (typeof weights === 'function') return;
  const rows = weights.tensors.get('blocks.0.mlp.fc1.weight')?.shape[0];
  const width = ditMlpWidth(c);
  if (rows !== undefined && rows !== width) {
    throw new UsageError(`checkpoint MLP width ${rows} (rows of blocks.0.mlp.fc1.weight) is not the config's int(hidden_size ${c.hidden_size} × mlp_ratio ${c.mlp_ratio}) = ${width}`);
  }
}

/**
 * A two-entry memo: the split q/k/v and adaLN chunks read the same weight (and its bias) several
 * times in a row; keeping two entries avoids re-reading a large tensor from the file.
 */
function weightReader(weights: DiTWeights, shapes: Map<string, number[]>): (name: string) => Float32Array {
  const recent: Array<[string, Float32Array]> = [];
  const read = (name: string): Float32Array => {
    const expected = shapes.get(name)!;
    if (typeof weights === 'function') return weights(name);
    const t = weights.tensors.get(name);
    if (!t) throw new UsageError(`checkpoint has no tensor "${name}" (expected shape [${expected}]); is it a DiT state dict with official key names?`);
    if (t.shape.length !== expected.length || t.shape.some((d, i) => d !== expected[i])) {
      throw new UsageError(`checkpoint tensor "${name}" has shape [${t.shape}], the config needs [${expected}]`);
    }
    return t.toFloat32();
  };
  return (name) => {
    const hit = recent.find(([n]) => n === name);
    if (hit) return hit[1];
    if (recent.length === 2) recent.shift(); // drop the oldest before reading the next
    const data = read(name);
    recent.push([name, data]);
    return data;
  };
}

/** Rows [from, to) of a row-major (rows, cols) matrix, times an optional scale. */
function rows(w: Float32Array, cols: number, from: number, to: number, scale = 1): Float32Array {
  const out = w.slice(from * cols, to * cols);
  if (scale !== 1) for (let i = 0; i < out.length; i++) out[i]! *= scale;
  return out;
}

function transpose2d(w: Float32Array, r: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = w[i * c + j]!;
  return out;
}

/** Builds the DiT graph for `config`; weights are read lazily, when the graph is saved. */
export function buildDiTGraph(config: DiTConfig, weights: DiTWeights, opts: DiTGraphOptions = {}): Graph {
  validateConfig(config);
  const attention = opts.attention ?? 'fused';
  const linearKind = opts.linear ?? 'gemm';
  const qkvLayout = opts.qkv ?? 'split';
  const shapes = ditParameterShapes(config);
  checkMlpWidth(config, weights);
  const w = weightReader(weights, shapes);

  const D = config.hidden_size;
  const H = config.num_heads;
  const hd = D / H;
  const p = config.patch_size;
  const C = config.in_channels;
  const S = config.input_size;
  const h = S / p; // tokens per side
  const T = h * h;
  const outC = ditOutChannels(config);
  const N = opts.batch ?? 'N';
  const keepFp32 = new Set(opts.q8KeepFp32 ?? DEFAULT_Q8_FP32_LAYERS);
  const blockwise = new Set(opts.q8Blockwise ?? DEFAULT_Q8_BLOCKWISE_LAYERS);
  const quantized = (prefix: string) => opts.dtype === 'q8' && !keepFp32.has(q8LayerKind(prefix));
  const keep16 = new Set(opts.fp16KeepFp32 ?? DEFAULT_FP16_FP32_PARTS);
  /** Element type of a part (or of the float16 bulk, 'linear'): float32 except under fp16. */
  const typeOf = (part: Fp16Part | 'linear'): ElemType => (opts.dtype === 'fp16' && (part === 'linear' || !keep16.has(part)) ? 'float16' : 'float32');

  const g = new GraphBuilder({ name: 'dit' });
  const as = castOnce(g);
  /** A small constant of element type `dt` (float32 keeps the builder's float32 constant). */
  const constant = (values: readonly number[], dims: readonly number[], name: string, dt: ElemType): Value =>
    dt === 'float32' ? g.float32(values, dims, name) : g.initializer(name, dt, dims, toFloat16(Float32Array.from(values)));
  const x = g.input('x', 'float32', [N, C, S, S]);
  const t = g.input('t', opts.timestepType ?? 'float32', [N]);
  const y = g.input('y', 'int64', [N]);

  /** The stored tensor `key`, read lazily, optionally transformed; named `name` in the graph; float32 unless `dtype` says float16. */
  const param = (key: string, o: { name?: string; dims?: number[]; transform?: (d: Float32Array) => Float32Array; dtype?: ElemType } = {}): Value => {
    const data = () => (o.transform ? o.transform(w(key)) : w(key));
    const name = o.name ?? key;
    const dims = o.dims ?? shapes.get(key)!;
    return storedWeight(g, name, dims, data, o.dtype ?? 'float32', key);
  };

  /**
   * nn.Linear on a 2-D (M, in) value with the stored (out, in) weight. `sel` keeps output rows
   * [from, to), scales them, and adds constants to bias ranges (relative to `from`).
   */
  const linear = (
    x2d: Value,
    prefix: string,
    sel?: { from: number; to: number; scale?: number; biasAdd?: Array<[number, number, number]> },
    withBias = true,
    dt: ElemType = 'float32',
  ): Value => {
    const [outF, inF] = shapes.get(`${prefix}.weight`)! as [number, number];
    const from = sel?.from ?? 0;
    const to = sel?.to ?? outF;
    const n = to - from;
    const suffix = from === 0 && to === outF ? '' : `[${from}:${to}]`;
    const selectRows = (d: Float32Array) => (sel ? rows(d, inF, from, to, sel.scale) : d);
    const bias = withBias
      ? param(`${prefix}.bias`, {
          name: `${prefix}.bias${suffix}`,
          dims: [n],
          dtype: dt,
          transform: (d) => {
            if (!sel) return d;
            const b = rows(d, 1, from, to, sel.scale);
            for (const [lo, hi, add] of sel.biasAdd ?? []) for (let i = lo; i < hi; i++) b[i]! += add;
            return b;
          },
        })
      : undefined;
    if (quantized(prefix)) {
      const byBlock = blockwise.has(q8LayerKind(prefix));
      // Codes and scales are two initializers written one after the other: quantize once for both.
      let memo: { codes: Int8Array | Uint8Array; scales: Float32Array } | undefined;
      const weight = () => selectRows(w(`${prefix}.weight`));
      const fmt = opts.blockFormat ?? Q8_BLOCK_FORMAT;
      const quantize = () => (memo ??= byBlock ? quantizeBlocks(weight(), n, inF, fmt.blockSize, fmt.bits) : quantizeRows(weight(), n, inF, { maxCode: Q8_MAX_CODE, transpose: true }));
      const scales = () => {
        const s = quantize().scales;
        memo = undefined;
        return s;
      };
      if (byBlock) {
        const blocks = Math.ceil(inF / fmt.blockSize);
        const codes = g.initializer(`${prefix}.weight${suffix}.q${fmt.bits}b`, 'uint8', [n, blocks, (fmt.blockSize * fmt.bits) / 8], () => quantize().codes);
        const nbits = { K: inF, N: n, bits: fmt.bits, blockSize: fmt.blockSize, accuracyLevel: fmt.accuracyLevel };
        return g.matMulNBits(x2d, codes, g.weight(`${prefix}.weight${suffix}.scale`, [n * blocks], scales), nbits, bias);
      }
      const codes = g.initializer(`${prefix}.weight${suffix}.q8`, 'int8', [inF, n], () => quantize().codes);
      return g.dynamicQuantizeMatMul(x2d, codes, g.weight(`${prefix}.weight${suffix}.scale`, [n], scales), undefined, bias);
    }
    const xin = as(x2d, dt);
    if (linearKind === 'gemm') {
      const weight = param(`${prefix}.weight`, { name: `${prefix}.weight${suffix}`, dims: [n, inF], transform: selectRows, dtype: dt });
      return g.gemm(xin, weight, bias, { transB: true });
    }
    const wt = param(`${prefix}.weight`, { name: `${prefix}.weight${suffix}.T`, dims: [inF, n], transform: (d) => transpose2d(selectRows(d), n, inF), dtype: dt });
    const mm = g.matMul(xin, wt);
    return bias ? g.add(mm, bias) : mm;
  };

  const NT = typeOf('norm');
  const ones = constant(new Array<number>(D).fill(1), [D], 'ln_ones', NT);
  /** LayerNorm without affine over the last dim. */
  const layerNorm = (v: Value) => g.layerNorm(as(v, NT), ones, undefined, { epsilon: LN_EPS });
  const to2d = (v: Value) => g.reshape(v, [-1, v.shape[v.shape.length - 1] as number]);
  const to3d = (v: Value) => g.reshape(v, [-1, T, v.shape[1] as number]);

  // 1. Patch embedding + fixed positions: (N, C, S, S) → (N, T, D)
  const ET = typeOf('embed');
  const RT = typeOf('residual');
  const LT = typeOf('linear');
  let tokens = g.scope('x_embedder', () => {
    const conv = g.conv(as(x, ET), param('x_embedder.proj.weight', { dtype: ET }), param('x_embedder.proj.bias', { dtype: ET }), { strides: [p, p] }); // (N, D, h, h)
    return g.transpose(g.reshape(conv, [0, D, T]), [0, 2, 1]); // (N, T, D)
  });
  tokens = as(g.add(tokens, param('pos_embed', { dtype: ET }), 'pos_embed_add'), RT);

  // 2. Conditioning c = t_emb + y_emb, and SiLU(c) shared by every adaLN
  const tEmb = g.scope('t_embedder', () => {
    const ST = typeOf('sinusoids');
    const tf = as(t, ST);
    const args = g.mul(g.unsqueeze(tf, [1]), constant(Array.from(timestepFrequencies()), [1, FREQ_DIM / 2], 'freqs', ST)); // (N, 128)
    const freq = g.concat([g.cos(args), g.sin(args)], 1); // (N, 256)
    return linear(g.silu(linear(freq, 't_embedder.mlp.0', undefined, true, ET)), 't_embedder.mlp.2', undefined, true, ET); // (N, D)
  });
  const yEmb = g.gather(param('y_embedder.embedding_table.weight', { dtype: ET }), y, 0, 'y_embedder'); // (N, D)
  const siluC = g.silu(g.add(tEmb, yEmb, 'c'), 'silu_c');

  /** adaLN chunks (N, 1, D) each; the scale chunks at `scaleIdx` get +1 folded into their bias. */
  const adaLN = (prefix: string, chunks: number, scaleIdx: number[]): Value[] => {
    const mod = linear(siluC, prefix, { from: 0, to: chunks * D, biasAdd: scaleIdx.map((k) => [k * D, (k + 1) * D, 1]) }, true, typeOf('adaLN'));
    return g.split(g.reshape(mod, [-1, chunks, D]), new Array<number>(chunks).fill(1), 1); // each (N, 1, D)
  };
  const modulate = (v: Value, shift: Value, scalePlusOne: Value) => g.add(g.mul(layerNorm(v), as(scalePlusOne, NT)), as(shift, NT));
  /** The residual stream plus a gated branch output. */
  const addGated = (stream: Value, branch: Value, gate: Value) => g.add(stream, g.mul(as(branch, RT), as(gate, RT)));

  const attentionOf = (hIn: Value, b: string): Value => {
    const h2 = as(to2d(hIn), LT); // (N·T, D)
    let q: Value, k: Value, v: Value;
    const scale = hd ** -0.5;
    if (qkvLayout === 'split') {
      q = linear(h2, `${b}.attn.qkv`, { from: 0, to: D, scale }, true, LT);
      k = linear(h2, `${b}.attn.qkv`, { from: D, to: 2 * D }, true, LT);
      v = linear(h2, `${b}.attn.qkv`, { from: 2 * D, to: 3 * D }, true, LT);
    } else {
      const qkv = linear(h2, `${b}.attn.qkv`, undefined, true, LT); // (N·T, 3D)
      const parts = g.split(qkv, [D, D, D], 1);
      q = g.mul(parts[0]!, constant([scale], [], 'attn_scale', LT));
      k = parts[1]!;
      v = parts[2]!;
    }
    const AT = typeOf('attention');
    [q, k, v] = [as(q, AT), as(k, AT), as(v, AT)];
    let o: Value;
    if (attention === 'fused') {
      o = g.multiHeadAttention(to3d(q), to3d(k), to3d(v), H, { scale: 1 }); // (N, T, D); q is pre-scaled
    } else {
      const heads = (u: Value, perm: number[]) => g.transpose(g.reshape(u, [-1, T, H, hd]), perm);
      const scores = g.matMul(heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])); // (N, H, T, T)
      const ctx = g.matMul(g.softmax(scores, -1), heads(v, [0, 2, 1, 3])); // (N, H, T, hd)
      o = g.transpose(ctx, [0, 2, 1, 3]); // (N, T, H, hd)
    }
    return linear(to2d(g.reshape(o, [-1, T, D])), `${b}.attn.proj`, undefined, true, LT); // (N·T, D)
  };

  // 3. adaLN-Zero blocks
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}`;
    tokens = g.scope(b, () => {
      const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = adaLN(`${b}.adaLN_modulation.1`, 6, [1, 4]) as [Value, Value, Value, Value, Value, Value];
      const attn = g.scope('attn', () => attentionOf(modulate(tokens, shiftMsa, scaleMsa), b));
      let xb = addGated(tokens, to3d(attn), gateMsa); // (N, T, D)
      const m = g.scope('mlp', () => {
        const h1 = linear(to2d(modulate(xb, shiftMlp, scaleMlp)), `${b}.mlp.fc1`, undefined, false, LT); // (N·T, mlp)
        const act = g.geluTanh(h1, param(`${b}.mlp.fc1.bias`, { dtype: LT }));
        return linear(act, `${b}.mlp.fc2`, undefined, true, LT); // (N·T, D)
      });
      xb = addGated(xb, to3d(m), gateMlp);
      return xb;
    });
  }

  // 4. Final layer and unpatchify: (N, T, p·p·outC) → (N, outC, S, S)
  const out = g.scope('final_layer', () => {
    const [shift, scalePlusOne] = adaLN('final_layer.adaLN_modulation.1', 2, [1]) as [Value, Value];
    const o = as(linear(to2d(modulate(tokens, shift, scalePlusOne)), 'final_layer.linear', undefined, true, typeOf('final')), 'float32'); // (N·T, p·p·outC)
    const patches = g.reshape(o, [-1, h, h, p, p, outC]); // (N, h, w, p, q, c)
    return g.reshape(g.transpose(patches, [0, 5, 1, 3, 2, 4]), [-1, outC, S, S]); // (N, c, h·p, w·q)
  });
  g.output(out, 'out');
  return g.finish();
}
