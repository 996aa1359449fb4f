/**
 * Could the SD VAE decoder run in int8 on the CPU? Its time is in 3×3 convolutions, so this times
 * one such convolution at each of the decoder's shapes at 256² (latent 32×32) on ONNX Runtime's
 * CPU kernels, all in one run, against fp32 Conv:
 * - "ConvInteger dyn": DynamicQuantizeLinear → ConvInteger (uint8 × uint8, the only types ONNX
 *   Runtime's CPU ConvInteger takes) → Cast → × scales → + bias: int8 with no calibration, like q8's
 *   DiT linears;
 * - "QLinearConv": DynamicQuantizeLinear → QLinearConv (uint8 activations, int8 weights per output
 *   channel: ONNX Runtime's symmetric int8 convolution kernels) → dequantize → + bias. Its output
 *   range is fixed here ([-4, 4]); a real graph would need it calibrated per layer.
 * Also the relative error of each against fp32 on the same inputs. Rounds interleave the candidates
 * so that load from other processes hits them alike; medians are reported.
 *
 *   npx tsx bench/vae-q8.ts [--threads 2] [--rounds 5] [--shapes 512@32,512@64,256@128,128@256]
 *
 * Prints a table, then one JSON line.
 */
import { encodeModel, GraphBuilder, type Graph, type GraphNode, type Initializer, type Value } from '../src/graph/index.js';
import { quantizeRows } from '../src/models/quantize.js';
import { buildVaeDecoder } from '../src/models/vae.js';
import { SD_VAE_CONFIG } from '../src/models/vae-config.js';
import { createSession, type Session } from '../src/runtime/index.js';
import { createTorchGenerator } from '../src/diffusion/random.js';
import { arg } from './args.js';
import { psnr } from './fidelity-probes.js';
import { randomWeights } from './vae-weights.js';
import { relativeError } from '../test/helpers/compare.js';

const threads = Number(arg('--threads', '2'));
const rounds = Number(arg('--rounds', '5'));
const shapes = arg('--shapes', '512@32,512@64,256@128,128@256').split(',').filter(Boolean).map((s) => s.split('@').map(Number) as [number, number]);
const decodeImages = Number(arg('--decode-images', '4'));
const LATENT = 32;

type Feed = Parameters<Session['run']>[0];
interface Candidate {
  label: string;
  build(g: GraphBuilder, c: number, size: number, w: Float32Array, bias: Float32Array, x: Float32Array): { feed: Feed; out: Value };
}

const PADS = [1, 1, 1, 1];

const CANDIDATES: Candidate[] = [
  {
    label: 'fp32 Conv',
    build: (g, c, size, w, bias, x) => {
      const xin = g.input('x', 'float32', [1, c, size, size]);
      return { feed: { x: { type: 'float32', data: x, dims: [1, c, size, size] } }, out: g.conv(xin, g.weight('w', [c, c, 3, 3], w), g.weight('b', [c], bias), { pads: PADS }) };
    },
  },
  {
    label: 'ConvInteger dyn',
    build: (g, c, size, w, bias, x) => {
      const xin = g.input('x', 'float32', [1, c, size, size]);
      // Per-tensor weight scale (ConvInteger's weight zero point is one value on the CPU), codes + 128 as uint8.
      let amax = 0;
      for (const v of w) amax = Math.max(amax, Math.abs(v));
      const ws = amax / 127;
      const codes = Uint8Array.from(w, (v) => 128 + Math.round(v / ws));
      const [xq, xs, xz] = g.dynamicQuantizeLinear(xin) as [Value, Value, Value];
      const acc = g.convInteger(xq, g.initializer('wq', 'uint8', [c, c, 3, 3], codes), xz, g.initializer('wz', 'uint8', [], Uint8Array.of(128)), { pads: PADS });
      const scaled = g.mul(g.cast(acc, 'float32'), g.mul(xs, g.float32([ws], [], 'ws')));
      return { feed: { x: { type: 'float32', data: x, dims: [1, c, size, size] } }, out: g.add(scaled, g.weight('b', [c, 1, 1], bias)) };
    },
  },
  {
    label: 'QLinearConv',
    build: (g, c, size, w, bias, x) => {
      const xin = g.input('x', 'float32', [1, c, size, size]);
      const q = quantizeRows(w, c, c * 9); // per output channel, full int8 range, zero point 0
      const ys = 8 / 255; // outputs quantized over [-4, 4]: a calibrated range in a real graph
      const [xq, xs, xz] = g.dynamicQuantizeLinear(xin) as [Value, Value, Value];
      const y = g.qLinearConv(
        xq, xs, xz,
        g.initializer('wq', 'int8', [c, c, 3, 3], q.codes), g.weight('wscale', [c], q.scales), g.initializer('wz', 'int8', [c], new Int8Array(c)),
        g.float32([ys], [], 'ys'), g.initializer('yz', 'uint8', [], Uint8Array.of(128)), undefined, { pads: PADS },
      );
      const dequantized = g.mul(g.add(g.cast(y, 'float32'), g.float32([-128], [], 'minus_yz')), g.float32([ys], [], 'ys_f'));
      return { feed: { x: { type: 'float32', data: x, dims: [1, c, size, size] } }, out: g.add(dequantized, g.weight('b', [c, 1, 1], bias)) };
    },
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const rows: Array<Record<string, string | number>> = [];
for (const [c, size] of shapes) {
  const gen = createTorchGenerator(c + size);
  const w = gen.randn(c * c * 9).map((v) => v / Math.sqrt(c * 9));
  const bias = gen.randn(c).map((v) => 0.1 * v);
  // SiLU of unit normals: what a resnet conv sees after GroupNorm → SiLU.
  const x = gen.randn(c * size * size).map((v) => v / (1 + Math.exp(-v)));
  const sessions = [];
  for (const cand of CANDIDATES) {
    const g = new GraphBuilder({ name: 'conv' });
    const built = cand.build(g, c, size, w, bias, x);
    g.output(built.out, 'y');
    const s = await createSession(encodeModel(g.finish()), { threads });
    const y = (await s.run(built.feed)).y!.data as Float32Array;
    sessions.push({ cand, s, feed: built.feed, y, times: [] as number[] });
  }
  for (let r = 0; r < rounds; r++) {
    for (const e of sessions) {
      const t0 = performance.now();
      await e.s.run(e.feed);
      e.times.push((performance.now() - t0) / 1000);
    }
  }
  const ref = sessions[0]!;
  for (const e of sessions) {
    const sec = median(e.times);
    rows.push({ shape: `${c}ch ${size}²`, candidate: e.cand.label, ms: +(sec * 1000).toFixed(1), gops: +((2 * c * c * 9 * size * size) / sec / 1e9).toFixed(1), vs_fp32: +(median(ref.times) / sec).toFixed(2), rel_err: +relativeError(e.y, ref.y).toExponential(2) });
    await e.s.release();
  }
}

if (rows.length > 0) {
  console.log(`3×3 convolutions at the SD VAE decoder's shapes (batch 1), ${threads} thread(s), ${rounds} interleaved rounds, medians; vs_fp32 = speed-up over fp32 Conv`);
  const cols = Object.keys(rows[0]!);
  console.log(cols.map((c) => c.padStart(20)).join(''));
  for (const row of rows) console.log(cols.map((c) => String(row[c]).padStart(20)).join(''));
  console.log(JSON.stringify({ bench: 'vae-q8-conv', threads, rounds, rows }));
}

/**
 * The whole decoder with every convolution but the first two and the last (post_quant_conv, conv_in,
 * conv_out) replaced by "ConvInteger dyn" with per-output-channel weight scales (applied after the
 * integer sum, so ConvInteger's one weight zero point is enough): int8 everywhere it matters for
 * time, with no calibration. Its error is what a dynamic int8 decoder gets at best — a
 * QLinearConv decoder adds the rounding of every output to 8 bits on top.
 */
function quantizeConvs(graph: Graph): Graph {
  const inits = new Map(graph.initializers.map((i) => [i.name, i]));
  const keep = /(^|\/)(post_quant_conv|decoder\.conv_in|decoder\.conv_out)\//;
  const nodes: GraphNode[] = [];
  const added: Initializer[] = [];
  let n = 0;
  for (const node of graph.nodes) {
    if (node.opType !== 'Conv' || keep.test(node.name)) {
      nodes.push(node);
      continue;
    }
    const [x, wName, bName] = node.inputs as [string, string, string];
    const w = inits.get(wName)!;
    const [m] = w.dims as [number];
    const k = w.dims.slice(1).reduce((a, b) => a * b, 1);
    let memo: { codes: Uint8Array; scales: Float32Array } | undefined;
    const quantized = () => {
      if (!memo) {
        const q = quantizeRows(w.data() as Float32Array, m, k);
        memo = { codes: Uint8Array.from(q.codes, (c) => c + 128), scales: q.scales };
      }
      return memo;
    };
    const id = `q${n++}`;
    added.push(
      { name: `${id}.wq`, dtype: 'uint8', dims: w.dims, data: () => quantized().codes },
      { name: `${id}.wscale`, dtype: 'float32', dims: [m, 1, 1], data: () => quantized().scales },
      { name: `${id}.wz`, dtype: 'uint8', dims: [], data: () => Uint8Array.of(128) },
      { name: `${id}.bias`, dtype: 'float32', dims: [m, 1, 1], data: () => inits.get(bName)!.data() },
    );
    const attrs = node.attributes.filter(([a]) => a === 'pads' || a === 'strides');
    const out = node.outputs[0]!;
    const t = (s: string) => `${id}.${s}`;
    nodes.push(
      { name: t('dql'), opType: 'DynamicQuantizeLinear', domain: '', inputs: [x], outputs: [t('xq'), t('xs'), t('xz')], attributes: [] },
      { name: t('conv'), opType: 'ConvInteger', domain: '', inputs: [t('xq'), `${id}.wq`, t('xz'), `${id}.wz`], outputs: [t('acc')], attributes: attrs },
      { name: t('cast'), opType: 'Cast', domain: '', inputs: [t('acc')], outputs: [t('accf')], attributes: [['to', 1]] },
      { name: t('scale'), opType: 'Mul', domain: '', inputs: [t('xs'), `${id}.wscale`], outputs: [t('s')], attributes: [] },
      { name: t('mul'), opType: 'Mul', domain: '', inputs: [t('accf'), t('s')], outputs: [t('y')], attributes: [] },
      { name: t('bias'), opType: 'Add', domain: '', inputs: [t('y'), `${id}.bias`], outputs: [out], attributes: [] },
    );
  }
  return { ...graph, nodes, initializers: [...graph.initializers.filter((i) => nodes.some((nd) => nd.inputs.includes(i.name))), ...added] };
}

if (decodeImages > 0) {
  const weights = randomWeights(SD_VAE_CONFIG);
  const fp32Graph = buildVaeDecoder(SD_VAE_CONFIG, weights, { latentHeight: LATENT, latentWidth: LATENT, batch: 1 });
  const sessions = [
    { label: 'fp32', s: await createSession(encodeModel(fp32Graph), { threads }), times: [] as number[], outs: [] as Float32Array[] },
    { label: 'q8 (ConvInteger dyn)', s: await createSession(encodeModel(quantizeConvs(fp32Graph)), { threads }), times: [] as number[], outs: [] as Float32Array[] },
  ];
  const gen = createTorchGenerator(11);
  for (let i = 0; i < decodeImages; i++) {
    const latents = gen.randn(4 * LATENT * LATENT); // DiT's latents: about unit variance
    for (const e of sessions) {
      const t0 = performance.now();
      const y = await e.s.run({ latents: { type: 'float32', data: latents, dims: [1, 4, LATENT, LATENT] } });
      e.times.push((performance.now() - t0) / 1000);
      e.outs.push(y.image!.data);
    }
  }
  const decodeRows = sessions.map((e) => {
    const ps = e.outs.map((o, i) => psnr(o, sessions[0]!.outs[i]!));
    return {
      dtype: e.label,
      decode_s: +median(e.times.slice(1)).toFixed(2),
      first_s: +e.times[0]!.toFixed(2),
      rel_err: +(e.outs.map((o, i) => relativeError(o, sessions[0]!.outs[i]!)).reduce((a, b) => a + b) / e.outs.length).toExponential(2),
      psnr_mean_db: +(ps.reduce((a, b) => a + b) / ps.length).toFixed(1),
      psnr_worst_db: +Math.min(...ps).toFixed(1),
    };
  });
  for (const e of sessions) await e.s.release();
  console.log(`SD VAE decoder (random weights, real shapes), latent ${LATENT}×${LATENT} → ${LATENT * 8}², ${decodeImages} images of unit-normal latents, ${threads} thread(s); decode_s: median after the first; PSNR of images clamped to [-1, 1] against fp32`);
  const cols = Object.keys(decodeRows[0]!);
  console.log(cols.map((c) => c.padStart(22)).join(''));
  for (const row of decodeRows) console.log(cols.map((c) => String(row[c as keyof typeof row]).padStart(22)).join(''));
  console.log(JSON.stringify({ bench: 'vae-q8-decode', threads, latent: LATENT, images: decodeImages, rows: decodeRows }));
}
