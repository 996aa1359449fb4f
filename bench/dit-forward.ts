/**
 * DiT forward benchmark sweep: one configuration per child process (so peak RSS and ORT's arena
 * are per configuration), a table, then one JSON line with every result.
 *
 *   npx tsx bench/dit-forward.ts [--model DiT-XL/2] [--image-size 256] [--batch 2] [--repeats 5]
 *                                [--threads 2] [--quick | --only "label,label"]
 *
 * Each row varies one knob from the baseline (fused attention, Gemm, split qkv, --threads, level all).
 * On a shared machine, compare rows by the CPU-time columns with --threads 1: they do not move
 * with other processes' load the way wall time does.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { benchDiT, type BenchResult } from '../src/runtime/bench.js';
import { ditConfigFor, type DiTVariantName } from '../src/models/dit.js';
import type { DiTGraphOptions } from '../src/models/dit.js';
import type { GraphOptimizationLevel } from '../src/runtime/index.js';
import { arg } from './args.js';

interface Variant {
  label: string;
  graph: DiTGraphOptions;
  level?: GraphOptimizationLevel;
  threads?: number;
  arena?: boolean;
  staticBatch?: boolean;
}

const VARIANTS: Variant[] = [
  { label: 'baseline', graph: { attention: 'fused' } },
  { label: 'plain attention', graph: { attention: 'plain' } },
  { label: 'matmul+add linears', graph: { attention: 'fused', linear: 'matmul' } },
  { label: 'packed qkv + Split', graph: { attention: 'fused', qkv: 'packed' } },
  { label: 'static batch', graph: { attention: 'fused' }, staticBatch: true },
  { label: 'level extended', graph: { attention: 'fused' }, level: 'extended' },
  { label: 'level basic', graph: { attention: 'fused' }, level: 'basic' },
  { label: 'no cpu arena', graph: { attention: 'fused' }, arena: false },
  { label: 'threads 1', graph: { attention: 'fused' }, threads: 1 },
  { label: 'plain attention + matmul', graph: { attention: 'plain', linear: 'matmul' } },
];


const model = arg('--model', 'DiT-XL/2') as DiTVariantName;
const imageSize = Number(arg('--image-size', '256'));
const batch = Number(arg('--batch', '2'));
const repeats = Number(arg('--repeats', '5'));
const threads = Number(arg('--threads', '2'));

if (process.argv.includes('--child')) {
  const v = JSON.parse(arg('--child', '{}')) as Variant;
  const r = await benchDiT({
    config: ditConfigFor(model, { input_size: imageSize / 8 }),
    model,
    batch,
    repeats,
    graph: v.graph,
    staticBatch: v.staticBatch,
    threads: v.threads ?? threads,
    graphOptimizationLevel: v.level ?? 'all',
    enableCpuMemArena: v.arena ?? true,
  });
  process.stdout.write(JSON.stringify(r) + '\n');
} else {
  const only = arg('--only', '');
  const chosen = only ? VARIANTS.filter((v) => only.split(',').map((l) => l.trim()).includes(v.label)) : process.argv.includes('--quick') ? VARIANTS.slice(0, 2) : VARIANTS;
  const rows: Array<{ label: string; r: BenchResult }> = [];
  const self = fileURLToPath(import.meta.url);
  for (const v of chosen) {
    const out = execFileSync(process.execPath, [...process.execArgv, self, ...process.argv.slice(2), '--child', JSON.stringify(v)], { encoding: 'utf8', maxBuffer: 1 << 24 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as BenchResult;
    rows.push({ label: v.label, r });
    process.stderr.write(`${v.label}: ${r.seconds_per_forward.toFixed(3)} s\n`);
  }
  const f = (x: number, d = 2) => x.toFixed(d);
  console.log(`${model} ${imageSize}px batch ${batch}, ${rows[0]?.r.gops_per_forward.toFixed(1)} G op per forward, median of ${repeats}`);
  console.log('variant                    s/fwd   G op/s  matmul G op/s  ratio  cpu s/fwd  cpu ratio  build s  session s  peak RSS MB');
  for (const { label, r } of rows) {
    console.log(`${label.padEnd(26)} ${f(r.seconds_per_forward, 3).padStart(6)} ${f(r.gflops_per_s, 1).padStart(8)} ${f(r.matmul_gflops_per_s, 1).padStart(14)} ${f(r.ratio_to_matmul).padStart(6)} ${f(r.cpu_seconds_per_forward, 3).padStart(10)} ${f(r.cpu_ratio_to_matmul).padStart(10)} ${f(r.build_s, 1).padStart(8)} ${f(r.session_s, 1).padStart(10)} ${f(r.peak_rss_mb, 0).padStart(12)}`);
  }
  console.log(JSON.stringify({ model, image_size: imageSize, batch, results: rows.map(({ label, r }) => ({ label, ...r })) }));
}
