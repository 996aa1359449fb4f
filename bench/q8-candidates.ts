/**
 * int8 candidates for the DiT's linear layers against fp32, one-op graphs at DiT-XL/2's shapes on
 * ONNX Runtime CPU, all in one run: a table (ms per call, G op/s, CPU ms per call, relative error
 * against fp32) and one JSON line.
 *
 *   npx tsx bench/q8-candidates.ts [--threads 2,1] [--rounds 9] [--tokens 512] [--shapes qkv,adaLN] [--only "fp32 Gemm,…"]
 *
 * Candidates are timed in interleaved rounds (one call of each per round, repeated `inner` times for
 * tiny shapes) so that load from other processes hits them alike; the median round is reported.
 * Weights are random (±1/√K, like PyTorch's Linear init); activations are standard normal with a few
 * outlier channels (×20), as transformer activations have.
 */
import { encodeModel, GraphBuilder, type Value } from '../src/graph/index.js';
import { quantizeBlocks, quantizeRows } from '../src/models/quantize.js';
import { createSession, type Session } from '../src/runtime/index.js';
import { median } from '../src/runtime/bench.js';
import { arg } from './args.js';

const threadList = arg('--threads', '2,1').split(',').map(Number);
const rounds = Number(arg('--rounds', '9'));
const tokens = Number(arg('--tokens', '512'));
const only = arg('--only', '');
const shapeNames = arg('--shapes', 'qkv,proj,fc1,fc2,adaLN').split(',');

const D = 1152;
const SHAPES: Array<{ name: string; m: number; k: number; n: number }> = [
  { name: 'qkv', m: tokens, k: D, n: 3 * D },
  { name: 'proj', m: tokens, k: D, n: D },
  { name: 'fc1', m: tokens, k: D, n: 4 * D },
  { name: 'fc2', m: tokens, k: 4 * D, n: D },
  { name: 'adaLN', m: 2, k: D, n: 6 * D },
];

/** Deterministic standard-normal-ish values (sum of 4 uniforms, scaled), xorshift32. */
function randn(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32 - 0.5;
  };
  for (let i = 0; i < n; i++) out[i] = (u() + u() + u() + u()) * Math.sqrt(3) * scale;
  return out;
}

type Build = (g: GraphBuilder, a: Value, w: Float32Array, bias: Float32Array, k: number, n: number) => Value;

const CANDIDATES: Array<{ label: string; build: Build }> = [
  { label: 'fp32 Gemm', build: (g, a, w, bias, k, n) => g.gemm(a, g.weight('w', [n, k], w), g.weight('b', [n], bias), { transB: true }) },
  ...[127, 63].map((maxCode) => ({
    label: `DynQuantMatMul s8${maxCode === 63 ? ' 7-bit' : ''}`,
    build: ((g, a, w, bias, k, n) => {
      const q = quantizeRows(w, n, k, { maxCode, transpose: true });
      return g.dynamicQuantizeMatMul(a, g.initializer('w', 'int8', [k, n], q.codes), g.weight('s', [n], q.scales), undefined, g.weight('b', [n], bias));
    }) as Build,
  })),
  ...([[32, 4], [128, 4], [32, 1]] as const).map(([blockSize, accuracyLevel]) => ({
    label: `MatMulNBits 8 b${blockSize} acc${accuracyLevel}`,
    build: ((g, a, w, bias, k, n) => {
      const q = quantizeBlocks(w, n, k, blockSize);
      return g.matMulNBits(a, g.initializer('w', 'uint8', [n, q.blocks, blockSize], q.codes), g.weight('s', [n * q.blocks], q.scales), { K: k, N: n, bits: 8, blockSize, accuracyLevel }, g.weight('b', [n], bias));
    }) as Build,
  })),
  {
    label: 'QDQ DQL+MatMulInteger',
    build: (g, a, w, bias, k, n) => {
      const q = quantizeRows(w, n, k, { transpose: true });
      const [aq, aScale, aZero] = g.dynamicQuantizeLinear(a) as [Value, Value, Value];
      const acc = g.matMulInteger(aq, g.initializer('w', 'int8', [k, n], q.codes), aZero);
      const scaled = g.mul(g.mul(g.cast(acc, 'float32'), aScale), g.weight('s', [n], q.scales));
      return g.add(scaled, g.weight('b', [n], bias));
    },
  },
];

interface Row { shape: string; m: number; k: number; n: number; threads: number; candidate: string; ms: number; cpu_ms: number; gops: number; rel_err: number }
const rows: Row[] = [];
const chosen = only ? CANDIDATES.filter((c) => only.split(',').includes(c.label)) : CANDIDATES;

for (const threads of threadList) {
  for (const { name, m, k, n } of SHAPES.filter((s) => shapeNames.includes(s.name))) {
    const w = randn(n * k, 11 + k + n, 1 / Math.sqrt(3 * k));
    const bias = randn(n, 5, 0.02);
    const x = randn(m * k, 3);
    for (let c = 0; c < k; c += 97) for (let r = 0; r < m; r++) x[r * k + c]! *= 20; // outlier channels
    const sessions: Array<{ label: string; s: Session }> = [];
    for (const cand of chosen) {
      const g = new GraphBuilder({ name: 'linear' });
      const a = g.input('a', 'float32', [m, k]);
      g.output(cand.build(g, a, w, bias, k, n), 'y');
      sessions.push({ label: cand.label, s: await createSession(encodeModel(g.finish()), { threads }) });
    }
    const feeds = { a: { type: 'float32' as const, data: x, dims: [m, k] } };
    const outputs = await Promise.all(sessions.map(async ({ s }) => (await s.run(feeds)).y!.data));
    const ref = outputs[0]!;
    let refNorm = 0;
    for (const v of ref) refNorm += v * v;
    const inner = Math.max(1, Math.round(2e8 / (2 * m * k * n))); // ≈ ≥ 0.1 s per sample at 1 T op/s
    const times = sessions.map(() => [] as number[]);
    const cpu = sessions.map(() => [] as number[]);
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < sessions.length; i++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        for (let j = 0; j < inner; j++) await sessions[i]!.s.run(feeds);
        times[i]!.push((performance.now() - t0) / inner);
        const c = process.cpuUsage(c0);
        cpu[i]!.push((c.user + c.system) / 1e3 / inner);
      }
    }
    sessions.forEach(({ label }, i) => {
      let err = 0;
      const y = outputs[i]!;
      for (let j = 0; j < y.length; j++) err += (y[j]! - ref[j]!) ** 2;
      const ms = median(times[i]!);
      rows.push({ shape: name, m, k, n, threads, candidate: label, ms, cpu_ms: median(cpu[i]!), gops: (2 * m * k * n) / (ms / 1e3) / 1e9, rel_err: Math.sqrt(err / refNorm) });
    });
    for (const { s } of sessions) await s.release();
    process.stderr.write(`threads ${threads} ${name} done\n`);
  }
}

console.log(`ORT CPU, one linear (M × K) · (K × N) + bias, median of ${rounds} interleaved rounds; rel err = ‖y − y_fp32‖ / ‖y_fp32‖`);
console.log('thr  shape  M     K     N     candidate                   ms/call   G op/s  cpu ms  ×fp32   rel err');
for (const r of rows) {
  const base = rows.find((b) => b.threads === r.threads && b.shape === r.shape && b.candidate === 'fp32 Gemm');
  console.log(
    `${String(r.threads).padEnd(4)} ${r.shape.padEnd(6)} ${String(r.m).padEnd(5)} ${String(r.k).padEnd(5)} ${String(r.n).padEnd(5)} ${r.candidate.padEnd(27)} ${r.ms.toFixed(3).padStart(8)} ${r.gops.toFixed(0).padStart(8)} ${r.cpu_ms.toFixed(2).padStart(7)} ${(base ? base.ms / r.ms : NaN).toFixed(2).padStart(6)} ${r.rel_err.toExponential(2).padStart(9)}`,
  );
}
console.log(JSON.stringify({ bench: 'q8-candidates', rounds, tokens, rows }));
