/**
 * DiT forward on the CPU in each precision, same run: seconds per forward, G op/s, the matching
 * single-matmul reference rate (fp32 MatMul for fp32, int8 DynamicQuantizeMatMul for q8, float16
 * MatMul for fp16, at the MLP's fc1 shape), peak RSS (one child process per dtype, so each has its
 * own), each dtype's relative error against fp32 on one forward with the same random weights and
 * inputs, and all timed again alternating in one process (the fairer comparison on a shared
 * machine). A table, then one JSON line.
 *
 *   npx tsx bench/dit-dtypes.ts [--model DiT-XL/2] [--image-size 256] [--batch 2] [--repeats 5] [--threads 2]
 *                               [--dtypes fp32,q8,fp16] [--keep embed,adaLN,final] [--profile]
 *
 * Random weights of the real shapes (runtime/bench.ts); `--model embedded` takes the shapes of the
 * embedded Fashion-MNIST model from its config.json (--image-size does not apply). --keep: the layers q8 keeps in fp32.
 * --profile adds ONNX Runtime's kernel time by op type for every dtype (one extra child each).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMBEDDED_MODEL_DIR } from '../src/assets.js';
import { loadDiTCheckpoint } from '../src/checkpoint/index.js';
import { saveModel } from '../src/graph/index.js';
import { buildDiTGraph, ditConfigFor, type DiTGraphOptions, type DiTVariantName } from '../src/models/dit.js';
import type { Q8LayerKind } from '../src/models/quantize.js';
import { pixelsPerCell, type DiTConfig, type DiTDtype } from '../src/models/dit-config.js';
import { benchDiT, median, randomDiTWeights, type BenchResult } from '../src/runtime/bench.js';
import { createSession } from '../src/runtime/index.js';
import { arg } from './args.js';

const model = arg('--model', 'DiT-XL/2');
const batch = Number(arg('--batch', '2'));
const repeats = Number(arg('--repeats', '5'));
const threads = Number(arg('--threads', '2'));
const keepArg = arg('--keep', '');
const keep = keepArg === '' ? undefined : keepArg === 'none' ? [] : (keepArg.split(',') as Q8LayerKind[]);
const dtypes = arg('--dtypes', 'fp32,q8,fp16').split(',') as DiTDtype[];
if (dtypes[0] !== 'fp32') throw new Error('--dtypes must start with fp32, the reference');
const config = model === 'embedded' ? embeddedConfig() : ditConfigFor(model as DiTVariantName, { input_size: Number(arg('--image-size', '256')) / 8 });
const imageSize = config.input_size * pixelsPerCell(config);
const graphFor = (dtype: DiTDtype): DiTGraphOptions => (dtype === 'fp32' ? {} : { dtype, ...(keep && dtype === 'q8' ? { q8KeepFp32: keep } : {}) });

/** The embedded model's architecture (its config.json; the header alone is read). */
function embeddedConfig(): DiTConfig {
  const ckpt = loadDiTCheckpoint(EMBEDDED_MODEL_DIR);
  ckpt.weights.close();
  return ckpt.config;
}

/** Every dtype's graph on the same input; ‖out − out_fp32‖ / ‖out_fp32‖ for each. */
async function relativeErrors(): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dit-q8-err-'));
  try {
    const S = config.input_size;
    const x = Float32Array.from({ length: batch * config.in_channels * S * S }, (_, i) => Math.sin(i * 1.7));
    const outs: Float32Array[] = [];
    for (const dtype of dtypes) {
      const p = (await saveModel(buildDiTGraph(config, randomDiTWeights(config), graphFor(dtype)), path.join(dir, `${dtype}.onnx`))).modelPath;
      const s = await createSession(p, { threads });
      const out = await s.run({
        x: { type: 'float32', data: x, dims: [batch, config.in_channels, S, S] },
        t: { type: 'float32', data: Float32Array.from({ length: batch }, (_, i) => (i * 397) % 1000), dims: [batch] },
        y: { type: 'int64', data: BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % config.num_classes)), dims: [batch] },
      });
      outs.push(out.out!.data);
      await s.release();
      rmSync(p, { force: true });
      rmSync(`${p}.data`, { force: true });
    }
    const err = (o: Float32Array) => {
      let num = 0;
      let den = 0;
      for (let i = 0; i < o.length; i++) {
        num += (o[i]! - outs[0]![i]!) ** 2;
        den += outs[0]![i]! ** 2;
      }
      return Math.sqrt(num / den);
    };
    return Object.fromEntries(dtypes.map((d, i) => [d, err(outs[i]!)]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Kernel ms per forward by op type (ONNX Runtime profile, 3 runs after a warm-up). */
async function profile(dtype: DiTDtype): Promise<Record<string, number>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dit-q8-prof-'));
  try {
    const p = (await saveModel(buildDiTGraph(config, randomDiTWeights(config), graphFor(dtype)), path.join(dir, 'model.onnx'))).modelPath;
    const s = await createSession(p, { threads, profileFilePrefix: path.join(dir, 'profile') });
    const S = config.input_size;
    const feeds = {
      x: { type: 'float32' as const, data: new Float32Array(batch * config.in_channels * S * S).fill(0.1), dims: [batch, config.in_channels, S, S] },
      t: { type: 'float32' as const, data: new Float32Array(batch).fill(500), dims: [batch] },
      y: { type: 'int64' as const, data: new BigInt64Array(batch).fill(1n), dims: [batch] },
    };
    for (let i = 0; i < 4; i++) await s.run(feeds);
    s.endProfiling();
    await s.release();
    const file = readdirSync(dir).find((f) => f.startsWith('profile'))!;
    const events = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Array<{ cat: string; name: string; dur: number; args?: { op_name?: string } }>;
    const byOp: Record<string, number> = {};
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const op = e.args?.op_name ?? '?';
      byOp[op] = (byOp[op] ?? 0) + e.dur / 4 / 1e3;
    }
    return byOp;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Times = Record<string, { wall: number[]; cpu: number[] }>;

/**
 * Every dtype's session in one process, forwards alternating fp32, q8, fp16, fp32, …: on a shared
 * machine, load from other processes then hits all alike (the per-dtype children give build time and RSS).
 */
async function interleaved(): Promise<Times> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dit-q8-alt-'));
  try {
    const S = config.input_size;
    const feeds = {
      x: { type: 'float32' as const, data: Float32Array.from({ length: batch * config.in_channels * S * S }, (_, i) => Math.sin(i * 1.7)), dims: [batch, config.in_channels, S, S] },
      t: { type: 'float32' as const, data: Float32Array.from({ length: batch }, (_, i) => (i * 397) % 1000), dims: [batch] },
      y: { type: 'int64' as const, data: BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % config.num_classes)), dims: [batch] },
    };
    const sessions = [];
    for (const dtype of dtypes) {
      const p = (await saveModel(buildDiTGraph(config, randomDiTWeights(config), graphFor(dtype)), path.join(dir, `${dtype}.onnx`))).modelPath;
      const s = await createSession(p, { threads });
      await s.run(feeds); // warm-up: arena and memory plan
      sessions.push({ dtype, s, wall: [] as number[], cpu: [] as number[] });
    }
    for (let r = 0; r < repeats; r++) {
      for (const e of sessions) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await e.s.run(feeds);
        e.wall.push((performance.now() - t0) / 1000);
        const c = process.cpuUsage(c0);
        e.cpu.push((c.user + c.system) / 1e6);
      }
    }
    for (const e of sessions) await e.s.release();
    return Object.fromEntries(sessions.map((e) => [e.dtype, { wall: e.wall, cpu: e.cpu }]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Child { kind: 'time' | 'error' | 'profile' | 'interleaved'; dtype: DiTDtype }

if (process.argv.includes('--child')) {
  const c = JSON.parse(arg('--child', '{}')) as Child;
  if (c.kind === 'time') {
    const r = await benchDiT({ config, model, batch, repeats, threads, graph: graphFor(c.dtype) });
    process.stdout.write(JSON.stringify({ ...r, peak_rss_mb: process.resourceUsage().maxRSS / 1024 }) + '\n');
  } else if (c.kind === 'interleaved') {
    process.stdout.write(JSON.stringify(await interleaved()) + '\n');
  } else if (c.kind === 'error') {
    process.stdout.write(JSON.stringify(await relativeErrors()) + '\n');
  } else {
    process.stdout.write(JSON.stringify(await profile(c.dtype)) + '\n');
  }
} else {
  const self = fileURLToPath(import.meta.url);
  const child = (c: Child): unknown => {
    const out = execFileSync(process.execPath, [...process.execArgv, self, ...process.argv.slice(2), '--child', JSON.stringify(c)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    return JSON.parse(out.trim().split('\n').pop()!);
  };
  const results: Record<string, BenchResult> = {};
  for (const dtype of dtypes) {
    results[dtype] = child({ kind: 'time', dtype }) as BenchResult;
    process.stderr.write(`${dtype}: ${results[dtype]!.seconds_per_forward.toFixed(3)} s\n`);
  }
  const relErr = child({ kind: 'error', dtype: 'fp32' }) as Record<string, number>;
  const alt = child({ kind: 'interleaved', dtype: 'fp32' }) as Times;
  const prof = process.argv.includes('--profile') ? Object.fromEntries(dtypes.map((d) => [d, child({ kind: 'profile', dtype: d }) as Record<string, number>])) : undefined;
  const refKind: Record<DiTDtype, string> = { fp32: 'fp32 MatMul', q8: 'int8 DynamicQuantizeMatMul', fp16: 'float16 MatMul' };

  console.log(`${model} ${imageSize}px batch ${batch}, ${threads} threads, ${results.fp32!.gops_per_forward.toFixed(1)} G op per forward, median of ${repeats}; q8 keeps fp32: ${(keep ?? ['default']).join(', ') || 'nothing'}`);
  console.log('dtype  s/fwd   G op/s  reference G op/s (kind)     cpu s/fwd  build s  peak RSS MB  weights MB  rel err vs fp32');
  for (const [dtype, r] of Object.entries(results)) {
    const ref = `${r.matmul_gflops_per_s.toFixed(0)} (${refKind[r.matmul_dtype]})`;
    console.log(`${dtype.padEnd(6)} ${r.seconds_per_forward.toFixed(3)}  ${r.gflops_per_s.toFixed(0).padStart(6)}  ${ref.padEnd(27)} ${r.cpu_seconds_per_forward.toFixed(3).padStart(9)}  ${r.build_s.toFixed(1).padStart(7)}  ${r.peak_rss_mb.toFixed(0).padStart(11)}  ${r.weights_mb.toFixed(0).padStart(10)}  ${dtype === 'fp32' ? '—' : relErr[dtype]!.toExponential(2)}`);
  }
  const m = (k: string, f: 'wall' | 'cpu') => median(alt[k]![f]);
  console.log(`interleaved in one process (median of ${repeats}): ${dtypes.map((d) => `${d} ${m(d, 'wall').toFixed(3)} s (cpu ${m(d, 'cpu').toFixed(3)} s, ×${(m('fp32', 'wall') / m(d, 'wall')).toFixed(2)} vs fp32)`).join(', ')}`);
  if (prof) {
    console.log('kernel ms per forward by op (ORT profile)');
    const ops = [...new Set(Object.values(prof).flatMap((p) => Object.keys(p)))].sort((a, b) => (prof.fp32![b] ?? 0) - (prof.fp32![a] ?? 0));
    for (const op of ops) console.log(`  ${op.padEnd(28)} ${dtypes.map((d) => `${d} ${(prof[d]![op] ?? 0).toFixed(1).padStart(8)}`).join('  ')}`);
  }
  console.log(JSON.stringify({ bench: 'dit-dtypes', model, image_size: imageSize, batch, threads, keep_fp32: keep ?? null, results, interleaved: alt, rel_err: relErr, profile: prof ?? null }));
}
