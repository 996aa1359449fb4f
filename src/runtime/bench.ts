/**
 * Forward-pass benchmark of a named DiT variant with random weights generated in-process (seeded),
 * next to a plain ONNX Runtime MatMul of a DiT-like shape timed in the same run, so the model's
 * effective rate can be read against what the hardware gives a single large matmul.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeModel, GraphBuilder, saveModel, toFloat16 } from '../graph/index.js';
import { buildDiTGraph, ditForwardOps, ditParameterShapes, type DiTConfig, type DiTGraphOptions } from '../models/dit.js';
import { ditMlpWidth, pixelsPerCell, type DiTDtype } from '../models/dit-config.js';
import { Q8_MAX_CODE, quantizeRows } from '../models/quantize.js';
import { createSession, type Session, type SessionOptions } from './session.js';
import { trackTemporary } from './temporaries.js';

export interface BenchOptions extends SessionOptions {
  readonly config: DiTConfig;
  readonly model: string; // name for the report
  readonly batch: number;
  readonly repeats?: number; // timed forwards after one warm-up; default 5
  readonly graph?: DiTGraphOptions;
  readonly seed?: number;
  /** Fix the batch dim in the graph instead of a symbolic "N". */
  readonly staticBatch?: boolean;
}

export interface BenchResult {
  readonly model: string;
  readonly image_size: number;
  readonly batch: number;
  readonly device: string;
  readonly threads: number | null;
  readonly graph: DiTGraphOptions;
  readonly graph_optimization_level: string;
  readonly seconds_per_forward: number; // median
  readonly seconds_all: number[];
  readonly gops_per_forward: number;
  readonly gflops_per_s: number; // effective, multiply-add = 2
  readonly matmul_shape: [number, number, number];
  readonly matmul_gflops_per_s: number;
  /** The reference's precision: the model's (fp32 MatMul, or int8 DynamicQuantizeMatMul for q8). */
  readonly matmul_dtype: DiTDtype;
  readonly ratio_to_matmul: number;
  /** Process CPU seconds per forward (median) and the same ratio on CPU time: with threads = 1 these do not depend on other load. */
  readonly cpu_seconds_per_forward: number;
  readonly cpu_ratio_to_matmul: number;
  readonly weights_mb: number;
  readonly build_s: number;
  readonly session_s: number;
  readonly peak_rss_mb: number;
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Deterministic uniform values in [-scale, scale) (xorshift32), fast enough for 675M parameters. */
export function randomTensor(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  const k = (2 * scale) / 2 ** 32;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) * k - scale;
  }
  return out;
}

function hashName(name: string, seed: number): number {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Random weights for every key of `config`, scaled like PyTorch's default Linear init (±1/√fan_in). */
export function randomDiTWeights(config: DiTConfig, seed = 0): (name: string) => Float32Array {
  const shapes = ditParameterShapes(config);
  return (name) => {
    const shape = shapes.get(name);
    if (!shape) throw new Error(`no weight named ${name}`);
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : shape[0]!;
    return randomTensor(n, hashName(name, seed), 1 / Math.sqrt(fanIn));
  };
}

/** Wall seconds of each run (and, in `cpu`, process CPU seconds: robust to other load with 1 thread). */
async function timeRuns(repeats: number, once: () => Promise<unknown>, cpu: number[]): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await once();
    times.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
  }
  return times;
}

/**
 * A session computing one (m × k) · (k × n) product against a constant weight: the hardware
 * reference, in the precision the model's linears use (fp32 MatMul; for q8 the int8
 * DynamicQuantizeMatMul with per-column weight codes; for fp16 a float16 MatMul). Only the product's
 * first row comes back: on a GPU, reading the whole m × n result (38 MB at DiT-XL/2's batch 8) took
 * longer than the product (the H200 run: 0.6 T op/s for the fp32 reference, 6 for the whole model).
 */
async function matMulRunner(m: number, k: number, n: number, dtype: DiTDtype, opts: SessionOptions): Promise<{ run: () => Promise<unknown>; release: () => Promise<void> }> {
  const g = new GraphBuilder({ name: 'matmul' });
  const a = g.input('a', 'float32', [m, k]);
  const w = randomTensor(k * n, 7, 0.05);
  if (dtype === 'q8') {
    // The random values read as (n, k) rows, one scale per output column, codes laid out (k, n).
    const q = quantizeRows(w, n, k, { maxCode: Q8_MAX_CODE, transpose: true });
    g.output(g.gather(g.dynamicQuantizeMatMul(a, g.initializer('b', 'int8', [k, n], q.codes), g.weight('b_scale', [n], q.scales)), g.int64([0], 'row')), 'c');
  } else if (dtype === 'fp16') {
    // float16 in and out of the product; the casts around it (m·k and n values) are noise next to its m·k·n.
    const c = g.matMul(g.cast(a, 'float16'), g.initializer('b', 'float16', [k, n], toFloat16(w)));
    g.output(g.cast(g.gather(c, g.int64([0], 'row')), 'float32'), 'c');
  } else {
    g.output(g.gather(g.matMul(a, g.weight('b', [k, n], w)), g.int64([0], 'row')), 'c');
  }
  const s = await createSession(encodeModel(g.finish()), opts);
  const x = randomTensor(m * k, 3, 1);
  return { run: () => s.run({ a: { type: 'float32', data: x, dims: [m, k] } }), release: () => s.release() };
}

/** The DiT inputs `dit bench` times (and bench/webgpu-options.mjs): seeded noise, spread timesteps, labels in turn. */
export function benchFeeds(config: DiTConfig, batch: number) {
  const S = config.input_size;
  return {
    x: { type: 'float32' as const, data: randomTensor(batch * config.in_channels * S * S, 1, 1), dims: [batch, config.in_channels, S, S] },
    t: { type: 'float32' as const, data: Float32Array.from({ length: batch }, (_, i) => (i * 397) % 1000), dims: [batch] },
    y: { type: 'int64' as const, data: BigInt64Array.from({ length: batch }, (_, i) => BigInt(i % config.num_classes)), dims: [batch] },
  };
}

export async function benchDiT(opts: BenchOptions): Promise<BenchResult> {
  const { config, batch } = opts;
  const repeats = opts.repeats ?? 5;
  const graphOpts: DiTGraphOptions = { ...opts.graph, ...(opts.staticBatch ? { batch } : {}) };
  const dir = mkdtempSync(path.join(tmpdir(), 'dit-bench-'));
  const untrack = trackTemporary(dir);
  const removeDir = () => {
    rmSync(dir, { recursive: true, force: true });
    untrack();
  };
  let session: Session | undefined;
  try {
    const t0 = performance.now();
    const saved = await saveModel(buildDiTGraph(config, randomDiTWeights(config, opts.seed ?? 0), graphOpts), path.join(dir, 'model.onnx'));
    const t1 = performance.now();
    session = await createSession(saved.modelPath, opts);
    const t2 = performance.now();
    removeDir(); // the session holds what it needs

    const S = config.input_size;
    const feeds = benchFeeds(config, batch);
    const ready = session;
    // The MLP's first matmul: tokens of the whole batch × hidden → MLP width.
    const T = (S / config.patch_size) ** 2;
    const mm: [number, number, number] = [batch * T, config.hidden_size, ditMlpWidth(config)];
    const reference = await matMulRunner(mm[0], mm[1], mm[2], graphOpts.dtype ?? 'fp32', opts);
    // Forwards and reference matmuls alternate, so that load from other processes hits both alike.
    const times: number[] = [];
    const mmTimes: number[] = [];
    const cpu: number[] = [];
    const mmCpu: number[] = [];
    try {
      await ready.run(feeds);
      await reference.run();
      for (let i = 0; i < repeats; i++) {
        times.push(...(await timeRuns(1, () => ready.run(feeds), cpu)));
        mmTimes.push(...(await timeRuns(3, reference.run, mmCpu)));
      }
    } finally {
      await reference.release();
    }
    const secs = median(times);
    const ops = ditForwardOps(config, batch);
    const matmul = (2 * mm[0] * mm[1] * mm[2]) / median(mmTimes) / 1e9;
    const gflops = ops / secs / 1e9;
    return {
      model: opts.model,
      image_size: S * pixelsPerCell(config),
      batch,
      device: opts.device ?? 'cpu',
      threads: opts.threads ?? null,
      graph: graphOpts,
      graph_optimization_level: opts.graphOptimizationLevel ?? 'all',
      seconds_per_forward: secs,
      seconds_all: times,
      gops_per_forward: ops / 1e9,
      gflops_per_s: gflops,
      matmul_shape: mm,
      matmul_gflops_per_s: matmul,
      matmul_dtype: graphOpts.dtype ?? 'fp32',
      ratio_to_matmul: gflops / matmul,
      cpu_seconds_per_forward: median(cpu),
      cpu_ratio_to_matmul: ops / median(cpu) / ((2 * mm[0] * mm[1] * mm[2]) / median(mmCpu)),
      weights_mb: saved.weightBytes / 2 ** 20,
      build_s: (t1 - t0) / 1000,
      session_s: (t2 - t1) / 1000,
      peak_rss_mb: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    await session?.release();
    removeDir();
  }
}
