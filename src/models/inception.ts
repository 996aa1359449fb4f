/**
 * The FID Inception v3 of pytorch-fid (src/pytorch_fid/inception.py, weights
 * pt_inception-2015-12-05-6726825d.pth, ported from TensorFlow's 2015-12-05 graph): torchvision's
 * Inception3 with the FIDInceptionA/C/E_1/E_2 blocks — average pools that do not count the padding
 * (count_include_pad=False) and a max pool in the last block's pool branch — up to the 2048-d
 * global average pool ("pool3"), the features FID is computed on.
 *
 * Every convolution is torchvision's BasicConv2d: Conv2d without bias, BatchNorm2d(eps=0.001),
 * ReLU; the batch norm is folded into the convolution's weight and bias at build time (float64,
 * then rounded to float32).
 *
 * The network is written once, against the small `Net` interface below, and walked twice: by the
 * graph builder and by a recorder that lists the state-dict keys and shapes in PyTorch's order (the
 * table the downloader and the loader check a file against).
 *
 * Preprocessing is pytorch-fid's: images as ToTensor gives them (uint8 / 255), F.interpolate to
 * 299×299 (bilinear, align_corners=False), then 2x − 1.
 */
import { UsageError } from '../errors.js';
import type { LazyTensor } from '../checkpoint/types.js';
import { GraphBuilder, type Graph, type Value } from '../graph/index.js';

export const INCEPTION_FEATURES = 2048;
export const INCEPTION_INPUT_SIZE = 299;
/** BatchNorm2d(eps=0.001) in torchvision's BasicConv2d. */
export const INCEPTION_BN_EPS = 0.001;
/** The classifier head of the ported TF graph: 1008 classes (not used for FID). */
export const INCEPTION_CLASSES = 1008;

interface ConvSpec {
  readonly k: readonly [number, number];
  readonly stride?: number;
  readonly pad?: readonly [number, number];
}

/** What a network description needs; T is a tensor (the graph) or a channel count (the recorder). */
interface Net<T> {
  channels(x: T): number;
  conv(x: T, name: string, out: number, spec: ConvSpec): T;
  maxPool(x: T, kernel: number, stride: number, pad: number): T;
  /** 3×3, stride 1, padding 1, count_include_pad=False. */
  avgPool3(x: T): T;
  concat(xs: readonly T[]): T;
}

const k1: ConvSpec = { k: [1, 1] };
const k3p1: ConvSpec = { k: [3, 3], pad: [1, 1] };
const k3s2: ConvSpec = { k: [3, 3], stride: 2 };
const k1x7: ConvSpec = { k: [1, 7], pad: [0, 3] };
const k7x1: ConvSpec = { k: [7, 1], pad: [3, 0] };
const k1x3: ConvSpec = { k: [1, 3], pad: [0, 1] };
const k3x1: ConvSpec = { k: [3, 1], pad: [1, 0] };

function blockA<T>(n: Net<T>, p: string, x: T, poolFeatures: number): T {
  const b1 = n.conv(x, `${p}.branch1x1`, 64, k1);
  const b5 = n.conv(n.conv(x, `${p}.branch5x5_1`, 48, k1), `${p}.branch5x5_2`, 64, { k: [5, 5], pad: [2, 2] });
  let b3 = n.conv(x, `${p}.branch3x3dbl_1`, 64, k1);
  b3 = n.conv(b3, `${p}.branch3x3dbl_2`, 96, k3p1);
  b3 = n.conv(b3, `${p}.branch3x3dbl_3`, 96, k3p1);
  const bp = n.conv(n.avgPool3(x), `${p}.branch_pool`, poolFeatures, k1);
  return n.concat([b1, b5, b3, bp]);
}

function blockB<T>(n: Net<T>, p: string, x: T): T {
  const b3 = n.conv(x, `${p}.branch3x3`, 384, k3s2);
  let bd = n.conv(x, `${p}.branch3x3dbl_1`, 64, k1);
  bd = n.conv(bd, `${p}.branch3x3dbl_2`, 96, k3p1);
  bd = n.conv(bd, `${p}.branch3x3dbl_3`, 96, k3s2);
  return n.concat([b3, bd, n.maxPool(x, 3, 2, 0)]);
}

function blockC<T>(n: Net<T>, p: string, x: T, c7: number): T {
  const b1 = n.conv(x, `${p}.branch1x1`, 192, k1);
  let b7 = n.conv(x, `${p}.branch7x7_1`, c7, k1);
  b7 = n.conv(b7, `${p}.branch7x7_2`, c7, k1x7);
  b7 = n.conv(b7, `${p}.branch7x7_3`, 192, k7x1);
  let bd = n.conv(x, `${p}.branch7x7dbl_1`, c7, k1);
  bd = n.conv(bd, `${p}.branch7x7dbl_2`, c7, k7x1);
  bd = n.conv(bd, `${p}.branch7x7dbl_3`, c7, k1x7);
  bd = n.conv(bd, `${p}.branch7x7dbl_4`, c7, k7x1);
  bd = n.conv(bd, `${p}.branch7x7dbl_5`, 192, k1x7);
  const bp = n.conv(n.avgPool3(x), `${p}.branch_pool`, 192, k1);
  return n.concat([b1, b7, bd, bp]);
}

function blockD<T>(n: Net<T>, p: string, x: T): T {
  const b3 = n.conv(n.conv(x, `${p}.branch3x3_1`, 192, k1), `${p}.branch3x3_2`, 320, k3s2);
  let b7 = n.conv(x, `${p}.branch7x7x3_1`, 192, k1);
  b7 = n.conv(b7, `${p}.branch7x7x3_2`, 192, k1x7);
  b7 = n.conv(b7, `${p}.branch7x7x3_3`, 192, k7x1);
  b7 = n.conv(b7, `${p}.branch7x7x3_4`, 192, k3s2);
  return n.concat([b3, b7, n.maxPool(x, 3, 2, 0)]);
}

/** InceptionE; the FID graph's last block (E_2) pools with a 3×3 max pool instead of an average. */
function blockE<T>(n: Net<T>, p: string, x: T, pool: 'avg' | 'max'): T {
  const b1 = n.conv(x, `${p}.branch1x1`, 320, k1);
  const b3 = n.conv(x, `${p}.branch3x3_1`, 384, k1);
  const b3cat = n.concat([n.conv(b3, `${p}.branch3x3_2a`, 384, k1x3), n.conv(b3, `${p}.branch3x3_2b`, 384, k3x1)]);
  let bd = n.conv(x, `${p}.branch3x3dbl_1`, 448, k1);
  bd = n.conv(bd, `${p}.branch3x3dbl_2`, 384, k3p1);
  const bdcat = n.concat([n.conv(bd, `${p}.branch3x3dbl_3a`, 384, k1x3), n.conv(bd, `${p}.branch3x3dbl_3b`, 384, k3x1)]);
  const pooled = pool === 'avg' ? n.avgPool3(x) : n.maxPool(x, 3, 1, 1);
  const bp = n.conv(pooled, `${p}.branch_pool`, 192, k1);
  return n.concat([b1, b3cat, bdcat, bp]);
}

/** Input (3 channels, any size) to the 2048-channel map before the global average pool. */
function inceptionTrunk<T>(n: Net<T>, x: T): T {
  x = n.conv(x, 'Conv2d_1a_3x3', 32, k3s2);
  x = n.conv(x, 'Conv2d_2a_3x3', 32, { k: [3, 3] });
  x = n.conv(x, 'Conv2d_2b_3x3', 64, k3p1);
  x = n.maxPool(x, 3, 2, 0);
  x = n.conv(x, 'Conv2d_3b_1x1', 80, k1);
  x = n.conv(x, 'Conv2d_4a_3x3', 192, { k: [3, 3] });
  x = n.maxPool(x, 3, 2, 0);
  x = blockA(n, 'Mixed_5b', x, 32);
  x = blockA(n, 'Mixed_5c', x, 64);
  x = blockA(n, 'Mixed_5d', x, 64);
  x = blockB(n, 'Mixed_6a', x);
  x = blockC(n, 'Mixed_6b', x, 128);
  x = blockC(n, 'Mixed_6c', x, 160);
  x = blockC(n, 'Mixed_6d', x, 160);
  x = blockC(n, 'Mixed_6e', x, 192);
  x = blockD(n, 'Mixed_7a', x);
  x = blockE(n, 'Mixed_7b', x, 'avg');
  x = blockE(n, 'Mixed_7c', x, 'max');
  return x;
}

/** One entry of the state dict: `optional` ones may be absent from a file (never read). */
export interface InceptionKey {
  readonly name: string;
  readonly shape: readonly number[];
  readonly optional: boolean;
}

const BN_PARTS = ['weight', 'bias', 'running_mean', 'running_var'] as const;

let keyTable: readonly InceptionKey[] | undefined;

/**
 * pytorch-fid's FID Inception state dict, in PyTorch's order: per BasicConv2d `conv.weight`, the
 * four batch-norm tensors and `bn.num_batches_tracked` (optional), then `fc.weight`/`fc.bias` (the
 * 1008-class head, optional: FID does not use it).
 */
export function inceptionStateDictKeys(): readonly InceptionKey[] {
  if (keyTable) return keyTable;
  const keys: InceptionKey[] = [];
  const recorder: Net<number> = {
    channels: (c) => c,
    conv(c, name, out, spec) {
      keys.push({ name: `${name}.conv.weight`, shape: [out, c, spec.k[0], spec.k[1]], optional: false });
      for (const part of BN_PARTS) keys.push({ name: `${name}.bn.${part}`, shape: [out], optional: false });
      keys.push({ name: `${name}.bn.num_batches_tracked`, shape: [], optional: true });
      return out;
    },
    maxPool: (c) => c,
    avgPool3: (c) => c,
    concat: (cs) => cs.reduce((a, b) => a + b, 0),
  };
  const c = inceptionTrunk(recorder, 3);
  keys.push({ name: 'fc.weight', shape: [INCEPTION_CLASSES, c], optional: true });
  keys.push({ name: 'fc.bias', shape: [INCEPTION_CLASSES], optional: true });
  keyTable = keys;
  return keys;
}

/**
 * What is wrong with a state dict as the FID Inception's, or undefined when every required key is
 * there with its shape (extra keys are allowed: they are not read).
 */
export function inceptionWeightsProblem(shapes: ReadonlyMap<string, readonly number[]>): string | undefined {
  const missing: string[] = [];
  for (const k of inceptionStateDictKeys()) {
    const s = shapes.get(k.name);
    if (s === undefined) {
      if (!k.optional) missing.push(k.name);
      continue;
    }
    if (s.join() !== k.shape.join()) return `tensor "${k.name}" has shape [${s.join(', ')}], the FID Inception's is [${k.shape.join(', ')}]`;
  }
  if (missing.length > 0) {
    return `${missing.length} of the FID Inception's tensors are missing (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}); this is not pytorch-fid's pt_inception-2015-12-05 file`;
  }
  return undefined;
}

/**
 * Graph: images (N, H, W, 3), float32 values 0..255 (8-bit RGB as read) → features (N, 2048), the
 * pool3 activations of pytorch-fid's InceptionV3([3]) with resize_input and normalize_input.
 */
export function buildInceptionGraph(weights: ReadonlyMap<string, LazyTensor>, imageSize: readonly [number, number]): Graph {
  const problem = inceptionWeightsProblem(new Map([...weights].map(([k, t]) => [k, t.shape])));
  if (problem) throw new UsageError(`Inception weights: ${problem}; get the file with \`dit download inception\``);
  const g = new GraphBuilder({ name: 'fid-inception-v3', opsetVersion: 18 });
  const [h, w] = imageSize;
  const images = g.input('images', 'float32', ['N', h, w, 3]);
  // ToTensor: uint8 / 255, (C, H, W); then F.interpolate to 299×299; then 2x − 1.
  let x = g.transpose(g.div(images, g.float32([255], [1], 'u8_scale')), [0, 3, 1, 2]);
  x = g.resizeBilinear(x, [INCEPTION_INPUT_SIZE, INCEPTION_INPUT_SIZE], 'resize_299');
  x = g.add(g.mul(x, g.float32([2], [1], 'two')), g.float32([-1], [1], 'minus_one'), 'to_pm1');
  const tensor = (name: string) => weights.get(name)!;
  const net: Net<Value> = {
    channels: (v) => v.shape[1] as number,
    conv(v, name, out, spec) {
      const [kh, kw] = spec.k;
      const inC = v.shape[1] as number;
      const count = out * inC * kh * kw;
      // Folding happens lazily, when the model is written.
      let folded: { w: Float32Array; b: Float32Array } | undefined;
      const fold = () => {
        if (folded) return folded;
        const wt = tensor(`${name}.conv.weight`).toFloat32();
        const [gamma, beta, mean, variance] = BN_PARTS.map((p) => tensor(`${name}.bn.${p}`).toFloat32()) as [Float32Array, Float32Array, Float32Array, Float32Array];
        const wf = new Float32Array(count);
        const bf = new Float32Array(out);
        const per = count / out;
        for (let o = 0; o < out; o++) {
          const s = gamma[o]! / Math.sqrt(variance[o]! + INCEPTION_BN_EPS);
          for (let i = 0; i < per; i++) wf[o * per + i] = wt[o * per + i]! * s;
          bf[o] = beta[o]! - mean[o]! * s;
        }
        folded = { w: wf, b: bf };
        return folded;
      };
      const wv = g.weight(`${name}.w`, [out, inC, kh, kw], () => fold().w);
      const bv = g.weight(`${name}.b`, [out], () => fold().b);
      const [ph, pw] = spec.pad ?? [0, 0];
      const s = spec.stride ?? 1;
      return g.relu(g.conv(v, wv, bv, { strides: [s, s], pads: [ph, pw, ph, pw] }, name), `${name}.relu`);
    },
    maxPool: (v, k, s, p) => g.maxPool(v, k, s, p),
    avgPool3: (v) => g.averagePool(v, 3, 1, 1, false),
    concat: (vs) => g.concat(vs, 1),
  };
  x = inceptionTrunk(net, x);
  x = g.reshape(g.globalAveragePool(x, 'pool3'), [-1, INCEPTION_FEATURES]);
  g.output(x, 'features');
  return g.finish();
}
