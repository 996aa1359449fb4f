/**
 * A typed ONNX graph builder: every value has a name, an element type and a static shape (one
 * symbolic batch dim allowed), and every op checks its inputs and infers its output shapes the
 * moment it is added. A mistake therefore fails at build time, naming the node, rather than deep
 * inside ONNX Runtime at session creation.
 *
 * Weights are lazy: an initializer holds a function producing its data, called once when the model
 * is written (see save.ts), so a multi-GB model streams tensor by tensor.
 */
import { ONNX_DTYPE, type AttrValue, type ElemType, type EncodedNode } from './proto.js';
import {
  broadcastShapes,
  dimAdd,
  dimEq,
  formatShape,
  isValidDim,
  reshapeShape,
  type Dim,
  type Shape,
} from './shape.js';

export type { Dim, Shape } from './shape.js';
export type { ElemType } from './proto.js';

/** A named value of the graph: an input, an initializer or a node output. */
export interface Value {
  readonly name: string;
  readonly dtype: ElemType;
  readonly shape: Shape;
}

export type TensorData = Float32Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Int8Array;

export interface Initializer {
  readonly name: string;
  readonly dtype: ElemType;
  readonly dims: readonly number[];
  /** Produces the data (C order); called once, when the model is written. */
  readonly data: () => TensorData;
}

/** One node as the builder records it: the same fields proto.ts encodes. */
export type GraphNode = EncodedNode;

/** The finished graph, ready for save.ts. */
export interface Graph {
  readonly name: string;
  readonly opsetVersion: number;
  readonly usesMicrosoftDomain: boolean;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly initializers: readonly Initializer[];
  readonly nodes: readonly GraphNode[];
}

/** Thrown for any build-time mistake; the message names the node. */
export class GraphBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphBuildError';
  }
}

const MS_DOMAIN = 'com.microsoft';

type Attrs = Record<string, AttrValue | undefined>;
type Infer = (inputs: readonly (Value | undefined)[], attrs: Attrs, b: GraphBuilder) => Array<{ dtype: ElemType; shape: Shape }>;

const FLOATS: readonly ElemType[] = ['float32', 'float16'];

function need(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

function req(inputs: readonly (Value | undefined)[], i: number, what: string): Value {
  const v = inputs[i];
  need(v, `input ${i} (${what}) is required`);
  return v;
}

function normAxis(axis: number, rank: number): number {
  need(Number.isInteger(axis) && axis >= -rank && axis < rank, `axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

function numAttr(attrs: Attrs, key: string, dflt: number): number {
  const v = attrs[key];
  if (v === undefined) return dflt;
  if (typeof v === 'number') return v;
  if (typeof v === 'object' && 'float' in v) return v.float;
  throw new Error(`attribute ${key} must be a number`);
}

function intsAttr(attrs: Attrs, key: string): readonly number[] | undefined {
  const v = attrs[key];
  if (v === undefined) return undefined;
  need(Array.isArray(v), `attribute ${key} must be a list of integers`);
  return v as readonly number[];
}

function sameFloat(vals: readonly Value[]): ElemType {
  const t = vals[0]!.dtype;
  for (const v of vals) need(v.dtype === t, `element types differ: ${vals.map((x) => `${x.name}: ${x.dtype}`).join(', ')}`);
  return t;
}

function broadcastOf(vals: readonly Value[]): Dim[] {
  const s = broadcastShapes(vals.map((v) => v.shape));
  need(s, `shapes do not broadcast: ${vals.map((v) => `${v.name} ${formatShape(v.shape)}`).join(', ')}`);
  return s;
}

const binary: Infer = (ins) => {
  const a = req(ins, 0, 'A');
  const b = req(ins, 1, 'B');
  return [{ dtype: sameFloat([a, b]), shape: broadcastOf([a, b]) }];
};

const unaryFloat: Infer = (ins) => {
  const x = req(ins, 0, 'X');
  need(FLOATS.includes(x.dtype), `input ${x.name} is ${x.dtype}; this op takes float32 or float16`);
  return [{ dtype: x.dtype, shape: x.shape }];
};

function matmulShape(a: Shape, b: Shape): Dim[] {
  need(a.length >= 2 && b.length >= 2, `MatMul needs rank ≥ 2 operands, got ${formatShape(a)} and ${formatShape(b)}`);
  const k1 = a[a.length - 1]!;
  const k2 = b[b.length - 2]!;
  need(dimEq(k1, k2), `inner dims differ: ${formatShape(a)} × ${formatShape(b)} (${k1} vs ${k2})`);
  const batch = broadcastShapes([a.slice(0, -2), b.slice(0, -2)]);
  need(batch, `batch dims do not broadcast: ${formatShape(a)} × ${formatShape(b)}`);
  return [...batch, a[a.length - 2]!, b[b.length - 1]!];
}

/** A constant integer list read from an int64 initializer made by the builder. */
function constInts(b: GraphBuilder, v: Value | undefined, what: string): number[] {
  need(v, `${what} is required`);
  const c = b.constantValue(v.name);
  need(c, `${what} (${v.name}) must be a constant made with the builder (graph inputs as shapes are not supported)`);
  return Array.from(c, Number);
}

/** Output shape of a 2-D convolution of X (N, C, H, W) with W (M, C/group, kH, kW) and an optional bias (M). */
function convShape(x: Value, w: Value, bias: Value | undefined, at: Attrs): Shape {
  need(x.shape.length === 4 && w.shape.length === 4, `Conv supports 2-D convolution: X (N, C, H, W) and W (M, C/group, kH, kW), got ${formatShape(x.shape)} and ${formatShape(w.shape)}`);
  const group = numAttr(at, 'group', 1);
  const [m, cg, kh, kw] = w.shape as number[];
  need(typeof x.shape[1] === 'number' && x.shape[1] === cg! * group, `input channels ${x.shape[1]} ≠ weight's ${cg} × group ${group}`);
  const strides = intsAttr(at, 'strides') ?? [1, 1];
  const pads = intsAttr(at, 'pads') ?? [0, 0, 0, 0];
  const dil = intsAttr(at, 'dilations') ?? [1, 1];
  const ks = intsAttr(at, 'kernel_shape');
  if (ks) need(ks[0] === kh && ks[1] === kw, `kernel_shape ${ks} ≠ weight's (${kh}, ${kw})`);
  const out = (size: Dim, k: number, i: number): number => windowOutput(size, k, i, strides, pads, dil);
  if (bias) need(bias.shape.length === 1 && bias.shape[0] === m, `bias ${formatShape(bias.shape)} must be (${m})`);
  return [x.shape[0]!, m!, out(x.shape[2]!, kh!, 0), out(x.shape[3]!, kw!, 1)];
}

/** Output size of a sliding window along spatial axis i (Conv, MaxPool, AveragePool; floor mode). */
function windowOutput(size: Dim, k: number, i: number, strides: readonly number[], pads: readonly number[], dil: readonly number[]): number {
  need(typeof size === 'number', `spatial dim ${size} must be a number`);
  const o = Math.floor((size + pads[i]! + pads[i + 2]! - dil[i]! * (k - 1) - 1) / strides[i]!) + 1;
  need(o > 0, `output spatial size ${o} ≤ 0 (input ${size}, kernel ${k}, stride ${strides[i]}, pads ${pads})`);
  return o;
}

/** MaxPool / AveragePool over the two spatial dims of (N, C, H, W). */
const pool2d: Infer = (ins, at) => {
  const x = req(ins, 0, 'X');
  need(x.shape.length === 4, `2-D pooling takes X (N, C, H, W), got ${formatShape(x.shape)}`);
  need(FLOATS.includes(x.dtype), `input ${x.name} is ${x.dtype}; this op takes float32 or float16`);
  const ks = intsAttr(at, 'kernel_shape');
  need(ks && ks.length === 2, 'kernel_shape [kH, kW] is required');
  need(numAttr(at, 'ceil_mode', 0) === 0, 'only ceil_mode 0 is supported');
  const strides = intsAttr(at, 'strides') ?? [1, 1];
  const pads = intsAttr(at, 'pads') ?? [0, 0, 0, 0];
  const out = (i: number) => windowOutput(x.shape[2 + i]!, ks[i]!, i, strides, pads, [1, 1]);
  return [{ dtype: x.dtype, shape: [x.shape[0]!, x.shape[1]!, out(0), out(1)] }];
};

/** Ops the builder knows: output shape inference for each. Anything else is refused at build time. */
const INFER: Record<string, Infer> = {
  Add: binary,
  Mul: binary,
  Div: binary,
  Sigmoid: unaryFloat,
  Sin: unaryFloat,
  Cos: unaryFloat,
  Relu: unaryFloat,
  Identity: (ins) => [{ dtype: req(ins, 0, 'X').dtype, shape: req(ins, 0, 'X').shape }],
  MatMul: (ins) => {
    const a = req(ins, 0, 'A');
    const b = req(ins, 1, 'B');
    return [{ dtype: sameFloat([a, b]), shape: matmulShape(a.shape, b.shape) }];
  },
  Gemm: (ins, at) => {
    const a = req(ins, 0, 'A');
    const b = req(ins, 1, 'B');
    need(a.shape.length === 2 && b.shape.length === 2, `Gemm takes 2-D A and B, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
    const [m, ka] = numAttr(at, 'transA', 0) ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
    const [kb, n] = numAttr(at, 'transB', 0) ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
    need(dimEq(ka, kb), `inner dims differ: A ${formatShape(a.shape)}, B ${formatShape(b.shape)} (K ${ka} vs ${kb}; transA=${numAttr(at, 'transA', 0)}, transB=${numAttr(at, 'transB', 0)})`);
    const c = ins[2];
    if (c) {
      const s = broadcastShapes([c.shape, [m, n]]);
      need(s && s.length === 2 && dimEq(s[0]!, m) && dimEq(s[1]!, n), `bias C ${formatShape(c.shape)} does not broadcast to (${m}, ${n})`);
    }
    return [{ dtype: sameFloat([a, b]), shape: [m, n] }];
  },
  Conv: (ins, at) => {
    const [x, w] = [req(ins, 0, 'X'), req(ins, 1, 'W')];
    const shape = convShape(x, w, ins[2], at);
    return [{ dtype: sameFloat([x, w]), shape }];
  },
  ConvInteger: (ins, at) => {
    const [x, w] = [req(ins, 0, 'x'), req(ins, 1, 'w')];
    for (const v of [x, w]) need(v.dtype === 'int8' || v.dtype === 'uint8', `${v.name} must be int8 or uint8, got ${v.dtype}`);
    return [{ dtype: 'int32', shape: convShape(x, w, undefined, at) }];
  },
  QLinearConv: (ins, at) => {
    const [x, w, yZero] = [req(ins, 0, 'x'), req(ins, 3, 'w'), req(ins, 7, 'y_zero_point')];
    for (const v of [x, w, yZero]) need(v.dtype === 'int8' || v.dtype === 'uint8', `${v.name} must be int8 or uint8, got ${v.dtype}`);
    return [{ dtype: yZero.dtype, shape: convShape(x, w, ins[8], at) }];
  },
  Reshape: (ins, _at, b) => {
    const x = req(ins, 0, 'data');
    const s = reshapeShape(x.shape, constInts(b, ins[1], 'shape'));
    need(typeof s !== 'string', `cannot reshape ${formatShape(x.shape)}: ${s}`);
    return [{ dtype: x.dtype, shape: s }];
  },
  Transpose: (ins, at) => {
    const x = req(ins, 0, 'data');
    const perm = intsAttr(at, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
    need(perm.length === x.shape.length && [...perm].sort().every((p, i) => p === i), `perm ${perm} is not a permutation of 0..${x.shape.length - 1}`);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]!) }];
  },
  Concat: (ins, at) => {
    const xs = ins.map((_, i) => req(ins, i, `input ${i}`));
    need(xs.length >= 1, 'Concat needs at least one input');
    const rank = xs[0]!.shape.length;
    const axis = normAxis(numAttr(at, 'axis', 0), rank);
    const out = [...xs[0]!.shape];
    for (const v of xs.slice(1)) {
      need(v.shape.length === rank, `ranks differ: ${xs.map((x) => formatShape(x.shape)).join(', ')}`);
      for (let i = 0; i < rank; i++) {
        if (i === axis) {
          const s = dimAdd(out[i]!, v.shape[i]!);
          need(s !== undefined, `cannot add dims ${out[i]} and ${v.shape[i]} on the concat axis`);
          out[i] = s;
        } else need(dimEq(out[i]!, v.shape[i]!), `dim ${i} differs off the concat axis: ${xs.map((x) => formatShape(x.shape)).join(', ')}`);
      }
    }
    return [{ dtype: sameFloat(xs), shape: out }];
  },
  Split: (ins, at, b) => {
    const x = req(ins, 0, 'input');
    const axis = normAxis(numAttr(at, 'axis', 0), x.shape.length);
    const split = constInts(b, ins[1], 'split');
    const d = x.shape[axis]!;
    need(typeof d === 'number' && split.reduce((s, v) => s + v, 0) === d, `split sizes ${split} do not sum to dim ${d} (axis ${axis})`);
    return split.map((s) => ({ dtype: x.dtype, shape: x.shape.map((e, i) => (i === axis ? s : e)) }));
  },
  Gather: (ins, at) => {
    const x = req(ins, 0, 'data');
    const idx = req(ins, 1, 'indices');
    need(idx.dtype === 'int64' || idx.dtype === 'int32', `indices ${idx.name} must be int64 or int32, got ${idx.dtype}`);
    const axis = normAxis(numAttr(at, 'axis', 0), x.shape.length);
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] }];
  },
  Unsqueeze: (ins, _at, b) => {
    const x = req(ins, 0, 'data');
    const axes = constInts(b, ins[1], 'axes');
    const rank = x.shape.length + axes.length;
    const norm = axes.map((a) => normAxis(a, rank)).sort((p, q) => p - q);
    need(new Set(norm).size === norm.length, `repeated axes ${axes}`);
    const out: Dim[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) out.push(norm.includes(i) ? 1 : x.shape[j++]!);
    return [{ dtype: x.dtype, shape: out }];
  },
  Softmax: (ins, at) => {
    const [o] = unaryFloat(ins, at, undefined as never);
    normAxis(numAttr(at, 'axis', -1), o!.shape.length);
    return [o!];
  },
  LayerNormalization: (ins, at) => {
    const x = req(ins, 0, 'X');
    const scale = req(ins, 1, 'Scale');
    const axis = normAxis(numAttr(at, 'axis', -1), x.shape.length);
    const norm = x.shape.slice(axis);
    for (const v of [scale, ins[2]]) {
      if (v) need(broadcastShapes([v.shape, norm])?.every((d, i) => dimEq(d, norm[i]!)), `${v.name} ${formatShape(v.shape)} does not fit the normalised dims ${formatShape(norm)}`);
    }
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  InstanceNormalization: (ins) => {
    const x = req(ins, 0, 'input');
    need(x.shape.length >= 3, `input must be (N, C, D1, ...), got ${formatShape(x.shape)}`);
    for (const [i, what] of [[1, 'scale'], [2, 'B']] as const) {
      const v = req(ins, i, what);
      need(v.shape.length === 1 && dimEq(v.shape[0]!, x.shape[1]!), `${what} ${formatShape(v.shape)} must be (${x.shape[1]})`);
    }
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  MaxPool: pool2d,
  AveragePool: pool2d,
  GlobalAveragePool: (ins) => {
    const x = req(ins, 0, 'X');
    need(x.shape.length === 4, `GlobalAveragePool takes X (N, C, H, W), got ${formatShape(x.shape)}`);
    return [{ dtype: x.dtype, shape: [x.shape[0]!, x.shape[1]!, 1, 1] }];
  },
  Resize: (ins, at, b) => {
    const x = req(ins, 0, 'X');
    need(!ins[1], 'roi is not supported (pass undefined)');
    if (ins[3]) {
      // Output sizes given: bilinear to a fixed size (the spatial dims only).
      need(!ins[2], 'give scales or sizes, not both');
      const sizes = constInts(b, ins[3], 'sizes');
      const axes = intsAttr(at, 'axes');
      need(b.opsetVersion >= 18 && x.shape.length === 4 && axes?.join() === '2,3', 'sizes are supported for H and W of (N, C, H, W) (axes [2, 3], opset ≥ 18)');
      need(sizes.length === 2 && sizes.every((d) => Number.isInteger(d) && d > 0), `sizes ${sizes} must be two positive sizes (H, W)`);
      need(at.mode === 'linear' && at.coordinate_transformation_mode === 'half_pixel', 'sizes are supported with mode "linear" and half_pixel coordinates');
      return [{ dtype: x.dtype, shape: [x.shape[0]!, x.shape[1]!, sizes[0]!, sizes[1]!] }];
    }
    const scales = b.constantValue(req(ins, 2, 'scales').name);
    need(scales && scales.length === x.shape.length, `scales must be a constant of length ${x.shape.length}`);
    need(at.mode === 'nearest', `only mode "nearest" is supported, got ${String(at.mode)}`);
    const out = x.shape.map((d, i) => {
      const s = Number(scales[i]);
      if (s === 1) return d;
      need(typeof d === 'number', `cannot scale symbolic dim ${d}`);
      return Math.floor(d * s);
    });
    return [{ dtype: x.dtype, shape: out }];
  },
  Cast: (ins, at) => {
    const x = req(ins, 0, 'input');
    const to = at.to;
    const names = new Map(Object.entries(ONNX_DTYPE).map(([k, v]) => [v as number, k as ElemType]));
    need(typeof to === 'number' && names.has(to), `Cast "to" ${String(to)} must be one of ${[...names.keys()].join(', ')}`);
    return [{ dtype: names.get(to)!, shape: x.shape }];
  },
  'com.microsoft:MultiHeadAttention': (ins, at) => {
    const q = req(ins, 0, 'query');
    const k = req(ins, 1, 'key');
    const v = req(ins, 2, 'value');
    need(ins.length <= 3, 'only query, key and value inputs are supported');
    for (const t of [q, k, v]) need(t.shape.length === 3, `${t.name} must be (B, S, D), got ${formatShape(t.shape)}`);
    const heads = numAttr(at, 'num_heads', 0);
    need(Number.isInteger(heads) && heads > 0, 'num_heads must be a positive integer');
    const d = q.shape[2]!;
    need(typeof d === 'number' && d % heads === 0, `hidden ${d} does not divide by num_heads ${heads}`);
    need(dimEq(q.shape[2]!, k.shape[2]!), `query and key hidden sizes differ: ${q.shape[2]} vs ${k.shape[2]}`);
    need(dimEq(k.shape[1]!, v.shape[1]!) && dimEq(q.shape[0]!, k.shape[0]!) && dimEq(q.shape[0]!, v.shape[0]!), `key ${formatShape(k.shape)} and value ${formatShape(v.shape)} do not fit query ${formatShape(q.shape)}`);
    return [{ dtype: sameFloat([q, k, v]), shape: [q.shape[0]!, q.shape[1]!, v.shape[2]!] }];
  },
  'com.microsoft:FastGelu': (ins) => {
    const x = req(ins, 0, 'X');
    const bias = ins[1];
    if (bias) need(bias.shape.length === 1 && dimEq(bias.shape[0]!, x.shape[x.shape.length - 1]!), `bias ${formatShape(bias.shape)} must match the last dim of ${formatShape(x.shape)}`);
    return unaryFloat([x], {}, undefined as never);
  },
  'com.microsoft:DynamicQuantizeMatMul': (ins) => {
    const a = req(ins, 0, 'A');
    const b = req(ins, 1, 'B');
    const scale = req(ins, 2, 'b_scale');
    need(a.dtype === 'float32', `A ${a.name} must be float32, got ${a.dtype}`);
    need(b.dtype === 'int8' || b.dtype === 'uint8', `B ${b.name} must be int8 or uint8, got ${b.dtype}`);
    need(b.shape.length === 2, `B must be (K, N), got ${formatShape(b.shape)}`);
    const n = b.shape[1]!;
    const perColumn = (v: Value) => v.shape.length === 0 || (v.shape.length === 1 && (v.shape[0] === 1 || dimEq(v.shape[0]!, n)));
    need(perColumn(scale), `b_scale ${formatShape(scale.shape)} must be a scalar or (${n})`);
    const zp = ins[3];
    if (zp) need(zp.dtype === b.dtype && dimEq(zp.shape[0] ?? 1, scale.shape[0] ?? 1), `b_zero_point must be ${b.dtype} shaped like b_scale`);
    const bias = ins[4];
    if (bias) need(bias.shape.length === 1 && dimEq(bias.shape[0]!, n), `bias ${formatShape(bias.shape)} must be (${n})`);
    return [{ dtype: 'float32', shape: matmulShape(a.shape, b.shape) }];
  },
  'com.microsoft:MatMulNBits': (ins, at) => {
    const a = req(ins, 0, 'A');
    const b = req(ins, 1, 'B');
    const scales = req(ins, 2, 'scales');
    const K = numAttr(at, 'K', 0);
    const N = numAttr(at, 'N', 0);
    const bits = numAttr(at, 'bits', 4);
    const block = numAttr(at, 'block_size', 0);
    need(a.dtype === 'float32' && b.dtype === 'uint8', `A must be float32 and B uint8, got ${a.dtype} and ${b.dtype}`);
    need(dimEq(a.shape[a.shape.length - 1]!, K), `A ${formatShape(a.shape)} does not end in K = ${K}`);
    need(block >= 16 && (block & (block - 1)) === 0, `block_size ${block} must be a power of 2, at least 16`);
    const blocks = Math.ceil(K / block);
    need(b.shape.length === 3 && b.shape[0] === N && b.shape[1] === blocks && b.shape[2] === (block * bits) / 8, `B ${formatShape(b.shape)} must be (${N}, ${blocks}, ${(block * bits) / 8})`);
    need(scales.shape.reduce<number>((s, d) => s * (d as number), 1) === N * blocks, `scales ${formatShape(scales.shape)} must hold N × blocks = ${N * blocks} values`);
    const bias = ins[5];
    if (bias) need(bias.shape.length === 1 && dimEq(bias.shape[0]!, N), `bias ${formatShape(bias.shape)} must be (${N})`);
    return [{ dtype: 'float32', shape: [...a.shape.slice(0, -1), N] }];
  },
  DynamicQuantizeLinear: (ins) => {
    const x = req(ins, 0, 'x');
    need(x.dtype === 'float32', `x ${x.name} must be float32, got ${x.dtype}`);
    return [{ dtype: 'uint8', shape: x.shape }, { dtype: 'float32', shape: [] }, { dtype: 'uint8', shape: [] }];
  },
  MatMulInteger: (ins) => {
    const a = req(ins, 0, 'A');
    const b = req(ins, 1, 'B');
    for (const v of [a, b]) need(v.dtype === 'int8' || v.dtype === 'uint8', `${v.name} must be int8 or uint8, got ${v.dtype}`);
    return [{ dtype: 'int32', shape: matmulShape(a.shape, b.shape) }];
  },
};

const SUPPORTED_OPS: readonly string[] = Object.keys(INFER);

export interface GraphBuilderOptions {
  readonly name?: string;
  /** ai.onnx opset, 17 or later (LayerNormalization needs 17). */
  readonly opsetVersion?: number;
}

export class GraphBuilder {
  readonly name: string;
  readonly opsetVersion: number;
  private readonly inputs: Value[] = [];
  private readonly outputs: Value[] = [];
  private readonly inits: Initializer[] = [];
  private readonly nodes: GraphNode[] = [];
  private readonly values = new Map<string, Value>();
  private readonly constants = new Map<string, ArrayLike<number | bigint>>();
  private readonly scopes: string[] = [];
  private readonly counters = new Map<string, number>();
  private usesMs = false;

  constructor(opts: GraphBuilderOptions = {}) {
    this.name = opts.name ?? 'graph';
    this.opsetVersion = opts.opsetVersion ?? 17;
    if (!Number.isInteger(this.opsetVersion) || this.opsetVersion < 17) {
      throw new GraphBuildError(`opsetVersion ${this.opsetVersion} is not supported: use 17 or later`);
    }
  }

  /** Runs `fn` with node and value names prefixed by `prefix/` (nested scopes join with `/`). */
  scope<T>(prefix: string, fn: () => T): T {
    this.scopes.push(prefix);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  private uniqueName(base: string): string {
    const full = [...this.scopes, base].join('/');
    if (!this.values.has(full) && !this.counters.has(full)) {
      this.counters.set(full, 0);
      return full;
    }
    let n = this.counters.get(full) ?? 0;
    let name: string;
    do name = `${full}_${++n}`;
    while (this.values.has(name));
    this.counters.set(full, n);
    return name;
  }

  private register(v: Value): Value {
    if (this.values.has(v.name)) throw new GraphBuildError(`value name "${v.name}" is used twice`);
    for (const d of v.shape) {
      if (!isValidDim(d)) throw new GraphBuildError(`value "${v.name}": dim ${String(d)} must be a non-negative integer or a symbol like "N" / "N*4"`);
    }
    this.values.set(v.name, v);
    return v;
  }

  /** A graph input; dims may be numbers or a symbol such as "N". */
  input(name: string, dtype: ElemType, shape: Shape): Value {
    const v = this.register({ name, dtype, shape: [...shape] });
    this.inputs.push(v);
    return v;
  }

  /** Marks `v` as a graph output under `name` (adds an Identity when the names differ). */
  output(v: Value, name: string = v.name): Value {
    const out = name === v.name ? v : this.node('Identity', [v], {}, { name, outputNames: [name] })[0]!;
    this.outputs.push(out);
    return out;
  }

  /** An initializer. `data` may be a function: it is then called only when the model is written. */
  initializer(name: string, dtype: ElemType, dims: readonly number[], data: TensorData | (() => TensorData)): Value {
    const full = this.uniqueName(name);
    for (const d of dims) {
      if (!Number.isInteger(d) || d < 0) throw new GraphBuildError(`initializer "${full}": dim ${d} must be a non-negative integer`);
    }
    const count = dims.reduce((a, b) => a * b, 1);
    const check = (t: TensorData): TensorData => {
      if (t.length !== count) {
        throw new GraphBuildError(`initializer "${full}": data has ${t.length} elements, shape ${formatShape(dims)} needs ${count}`);
      }
      return t;
    };
    const produce = typeof data === 'function' ? () => check(data()) : (check(data), () => data);
    this.inits.push({ name: full, dtype, dims: [...dims], data: produce });
    return this.register({ name: full, dtype, shape: [...dims] });
  }

  /** A float32 weight (lazy when given a function). */
  weight(name: string, dims: readonly number[], data: Float32Array | (() => Float32Array)): Value {
    return this.initializer(name, 'float32', dims, data);
  }

  /** A small int64 constant (shapes, axes, indices); the builder can read it back for shape inference. */
  int64(values: readonly number[], name = 'const'): Value {
    const v = this.initializer(name, 'int64', [values.length], BigInt64Array.from(values.map((x) => BigInt(x))));
    this.constants.set(v.name, values);
    return v;
  }

  /** A small float32 constant of the given shape (scalar when dims is []). */
  float32(values: readonly number[], dims: readonly number[] = [values.length], name = 'const'): Value {
    const v = this.initializer(name, 'float32', dims, Float32Array.from(values));
    this.constants.set(v.name, values);
    return v;
  }

  /** The values of a constant made by int64()/float32(), for shape inference; undefined otherwise. */
  constantValue(name: string): ArrayLike<number | bigint> | undefined {
    return this.constants.get(name);
  }

  /**
   * Adds a node of a supported op (`SUPPORTED_OPS`, `com.microsoft:` prefix for that domain),
   * infers its outputs, and returns them. `undefined` inputs are ONNX's omitted optional inputs.
   */
  node(
    op: string,
    inputs: ReadonlyArray<Value | undefined>,
    attrs: Attrs = {},
    opts: { name?: string; outputNames?: readonly string[] } = {},
  ): Value[] {
    const [domain, opType] = op.includes(':') ? (op.split(':') as [string, string]) : ['', op];
    const nodeName = this.uniqueName(opts.name ?? opType);
    const infer = INFER[op];
    if (!infer) {
      throw new GraphBuildError(`node "${nodeName}": op "${op}" is not supported by the builder; supported: ${SUPPORTED_OPS.join(', ')}`);
    }
    for (const v of inputs) {
      if (v && this.values.get(v.name) !== v) {
        throw new GraphBuildError(`node "${nodeName}" (${op}): input "${v.name}" does not belong to this graph`);
      }
    }
    let outs: Array<{ dtype: ElemType; shape: Shape }>;
    try {
      outs = infer(inputs, attrs, this);
    } catch (err) {
      throw new GraphBuildError(`node "${nodeName}" (${op}): ${(err as Error).message}`);
    }
    const outputNames = opts.outputNames ?? outs.map((_, i) => (outs.length === 1 ? nodeName : `${nodeName}:${i}`));
    const values = outs.map((o, i) => this.register({ name: outputNames[i]!, dtype: o.dtype, shape: o.shape }));
    const attributes = Object.entries(attrs).filter((e): e is [string, AttrValue] => e[1] !== undefined);
    // Omitted optional inputs are '' in ONNX; trailing ones are dropped, as exporters do.
    const inputNames = inputs.map((v) => v?.name ?? '');
    while (inputNames.length > 0 && inputNames[inputNames.length - 1] === '') inputNames.pop();
    this.nodes.push({ name: nodeName, opType, domain, inputs: inputNames, outputs: values.map((v) => v.name), attributes });
    if (domain === MS_DOMAIN) this.usesMs = true;
    return values;
  }

  private one(op: string, inputs: ReadonlyArray<Value | undefined>, attrs: Attrs = {}, name?: string): Value {
    return this.node(op, inputs, attrs, name === undefined ? {} : { name })[0]!;
  }

  // ---- elementwise ----
  add(a: Value, b: Value, name?: string): Value { return this.one('Add', [a, b], {}, name); }
  mul(a: Value, b: Value, name?: string): Value { return this.one('Mul', [a, b], {}, name); }
  div(a: Value, b: Value, name?: string): Value { return this.one('Div', [a, b], {}, name); }
  sigmoid(x: Value, name?: string): Value { return this.one('Sigmoid', [x], {}, name); }
  sin(x: Value, name?: string): Value { return this.one('Sin', [x], {}, name); }
  cos(x: Value, name?: string): Value { return this.one('Cos', [x], {}, name); }
  relu(x: Value, name?: string): Value { return this.one('Relu', [x], {}, name); }
  /** x · sigmoid(x); ORT fuses the pair. */
  silu(x: Value, name?: string): Value { return this.mul(x, this.sigmoid(x), name); }
  /** GELU, tanh approximation (PyTorch `approximate="tanh"`), as one com.microsoft.FastGelu node; optional bias fused. */
  geluTanh(x: Value, bias?: Value, name?: string): Value { return this.one('com.microsoft:FastGelu', [x, bias], {}, name); }
  cast(x: Value, to: ElemType, name?: string): Value { return this.one('Cast', [x], { to: ONNX_DTYPE[to] }, name); }

  // ---- linear algebra ----
  matMul(a: Value, b: Value, name?: string): Value { return this.one('MatMul', [a, b], {}, name); }
  /** Y = A · B' + C with B' = Bᵀ if transB (nn.Linear's stored (out, in) weight). */
  gemm(a: Value, b: Value, c?: Value, opts: { transB?: boolean } = {}, name?: string): Value {
    return this.one('Gemm', [a, b, c], { transB: opts.transB ? 1 : undefined }, name);
  }
  /** 2-D convolution, W (M, C, kH, kW); pads [top, left, bottom, right]. */
  conv(x: Value, w: Value, b?: Value, opts: { strides?: readonly number[]; pads?: readonly number[] } = {}, name?: string): Value {
    return this.one('Conv', [x, w, b], {
      kernel_shape: [w.shape[2] as number, w.shape[3] as number],
      strides: opts.strides ? [...opts.strides] : undefined,
      pads: opts.pads ? [...opts.pads] : undefined,
    }, name);
  }

  // ---- shape ----
  reshape(x: Value, shape: readonly number[], name?: string): Value { return this.one('Reshape', [x, this.int64(shape, 'shape')], {}, name); }
  transpose(x: Value, perm: readonly number[], name?: string): Value { return this.one('Transpose', [x], { perm: [...perm] }, name); }
  concat(xs: readonly Value[], axis: number, name?: string): Value { return this.one('Concat', xs, { axis }, name); }
  split(x: Value, sizes: readonly number[], axis: number, name?: string): Value[] {
    return this.node('Split', [x, this.int64(sizes, 'split')], { axis }, name === undefined ? {} : { name });
  }
  gather(x: Value, indices: Value, axis = 0, name?: string): Value { return this.one('Gather', [x, indices], { axis }, name); }
  unsqueeze(x: Value, axes: readonly number[], name?: string): Value { return this.one('Unsqueeze', [x, this.int64(axes, 'axes')], {}, name); }

  // ---- normalisation, attention ----
  softmax(x: Value, axis = -1, name?: string): Value { return this.one('Softmax', [x], { axis }, name); }
  /** LayerNormalization over the dims from `axis` on; scale is required by ONNX (use ones for no affine). */
  layerNorm(x: Value, scale: Value, bias: Value | undefined, opts: { axis?: number; epsilon: number }, name?: string): Value {
    return this.one('LayerNormalization', [x, scale, bias], { axis: opts.axis ?? -1, epsilon: { float: opts.epsilon } }, name);
  }
  instanceNorm(x: Value, scale: Value, bias: Value, epsilon: number, name?: string): Value {
    return this.one('InstanceNormalization', [x, scale, bias], { epsilon: { float: epsilon } }, name);
  }
  /** Nearest-neighbour upsampling of the two spatial dims, PyTorch `F.interpolate(mode="nearest")` semantics. */
  resizeNearest(x: Value, factor: number, name?: string): Value {
    const scales = this.float32([1, 1, factor, factor], [4], 'scales');
    return this.one('Resize', [x, undefined, scales], {
      mode: 'nearest',
      coordinate_transformation_mode: 'asymmetric',
      nearest_mode: 'floor',
    }, name);
  }
  /**
   * Bilinear resize of (N, C, H, W) to (N, C, h, w), PyTorch's `F.interpolate(size=(h, w),
   * mode="bilinear", align_corners=False)` (no antialiasing): ONNX linear with half_pixel
   * coordinates and `axes` [2, 3] (needs a builder with opsetVersion ≥ 18).
   */
  resizeBilinear(x: Value, size: readonly [number, number], name?: string): Value {
    const sizes = this.int64([size[0], size[1]], 'sizes');
    return this.one('Resize', [x, undefined, undefined, sizes], { mode: 'linear', coordinate_transformation_mode: 'half_pixel', axes: [2, 3] }, name);
  }
  /** MaxPool (floor mode; padding is −∞), pads [top, left, bottom, right]. */
  maxPool(x: Value, kernel: number, stride: number, pad = 0, name?: string): Value {
    return this.one('MaxPool', [x], { kernel_shape: [kernel, kernel], strides: [stride, stride], pads: [pad, pad, pad, pad] }, name);
  }
  /** AveragePool; countIncludePad false divides by the number of unpadded cells (PyTorch's count_include_pad=False). */
  averagePool(x: Value, kernel: number, stride: number, pad: number, countIncludePad: boolean, name?: string): Value {
    return this.one('AveragePool', [x], {
      kernel_shape: [kernel, kernel],
      strides: [stride, stride],
      pads: [pad, pad, pad, pad],
      count_include_pad: countIncludePad ? 1 : 0,
    }, name);
  }
  /** Mean over H and W: (N, C, H, W) → (N, C, 1, 1). */
  globalAveragePool(x: Value, name?: string): Value { return this.one('GlobalAveragePool', [x], {}, name); }
  /** com.microsoft.MultiHeadAttention on (B, S, D) query/key/value; scale defaults to head_dim^-0.5. */
  multiHeadAttention(q: Value, k: Value, v: Value, numHeads: number, opts: { scale?: number } = {}, name?: string): Value {
    return this.one('com.microsoft:MultiHeadAttention', [q, k, v], {
      num_heads: numHeads,
      scale: opts.scale === undefined ? undefined : { float: opts.scale },
    }, name);
  }

  // ---- int8 linear algebra (quantized weights; see models/quantize.ts) ----
  /**
   * com.microsoft.DynamicQuantizeMatMul: A (…, K) float32 quantized per tensor to uint8 at run
   * time, times B (K, N) int8 with b_scale (N) per column (symmetric when zeroPoint is omitted).
   */
  dynamicQuantizeMatMul(a: Value, b: Value, scale: Value, zeroPoint?: Value, bias?: Value, name?: string): Value {
    return this.one('com.microsoft:DynamicQuantizeMatMul', [a, b, scale, zeroPoint, bias], {}, name);
  }
  /**
   * com.microsoft.MatMulNBits: A (…, K) times Bᵀ with B (N, K) stored as `bits`-bit unsigned codes
   * in blocks of `blockSize` along K (N, blocks, blockSize·bits/8) with one scale each; without
   * zero points the code 2^(bits−1) is zero. accuracyLevel 4 computes in int8 (A quantized per block).
   */
  matMulNBits(a: Value, b: Value, scales: Value, opts: { K: number; N: number; bits: number; blockSize: number; accuracyLevel?: number }, bias?: Value, name?: string): Value {
    return this.one('com.microsoft:MatMulNBits', [a, b, scales, undefined, undefined, bias], {
      K: opts.K,
      N: opts.N,
      bits: opts.bits,
      block_size: opts.blockSize,
      accuracy_level: opts.accuracyLevel,
    }, name);
  }
  /** DynamicQuantizeLinear: [y uint8, y_scale, y_zero_point] over the whole tensor. */
  dynamicQuantizeLinear(x: Value, name?: string): Value[] {
    return this.node('DynamicQuantizeLinear', [x], {}, name === undefined ? {} : { name });
  }
  /** ConvInteger: int32 convolution of (x − x_zero_point) with (w − w_zero_point); `pads` as Conv's. */
  convInteger(x: Value, w: Value, xZeroPoint?: Value, wZeroPoint?: Value, opts: { pads?: readonly number[] } = {}, name?: string): Value {
    return this.one('ConvInteger', [x, w, xZeroPoint, wZeroPoint], { pads: opts.pads ? [...opts.pads] : undefined }, name);
  }
  /**
   * QLinearConv: quantized x (scale, zero point) convolved with quantized w (per-tensor or per-output-
   * channel scales), int32 bias, requantized to y_scale and y_zero_point.
   */
  qLinearConv(x: Value, xScale: Value, xZero: Value, w: Value, wScale: Value, wZero: Value, yScale: Value, yZero: Value, bias?: Value, opts: { pads?: readonly number[] } = {}, name?: string): Value {
    return this.one('QLinearConv', [x, xScale, xZero, w, wScale, wZero, yScale, yZero, bias], { pads: opts.pads ? [...opts.pads] : undefined }, name);
  }
  /** MatMulInteger: int32 (A − a_zero_point) · (B − b_zero_point). */
  matMulInteger(a: Value, b: Value, aZeroPoint?: Value, bZeroPoint?: Value, name?: string): Value {
    return this.one('MatMulInteger', [a, b, aZeroPoint, bZeroPoint], {}, name);
  }

  /** The finished graph. Throws when no output was declared. */
  finish(): Graph {
    if (this.outputs.length === 0) throw new GraphBuildError(`graph "${this.name}" has no outputs; call output() first`);
    return {
      name: this.name,
      opsetVersion: this.opsetVersion,
      usesMicrosoftDomain: this.usesMs,
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      initializers: [...this.inits],
      nodes: [...this.nodes],
    };
  }
}
