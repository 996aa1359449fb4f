/** `dit bench`: time the DiT forward pass of a named variant with random weights (no file needed). */
import type { Command } from 'commander';
import { BENCH_DEFAULTS, GRAPH_OPTIMIZATION_LEVELS, resolveBenchOptions } from '../options.js';
import { benchDiT, type BenchResult } from '../runtime/bench.js';
import { addFlags, flag, type LoadFlags } from './flags.js';

interface BenchFlags extends Pick<LoadFlags, 'model' | 'imageSize' | 'device' | 'threads' | 'dtype' | 'attention'> {
  batch?: string;
  repeats?: string;
  optLevel?: string;
  json?: boolean;
}

function table(r: BenchResult): string {
  const rows: Array<[string, string]> = [
    ['model', `${r.model} at ${r.image_size}px, batch ${r.batch}`],
    ['device / threads', `${r.device} / ${r.threads ?? 'default'}`],
    ['graph', `${JSON.stringify(r.graph)}, optimisation ${r.graph_optimization_level}`],
    ['forward (median)', `${r.seconds_per_forward.toFixed(3)} s  (all: ${r.seconds_all.map((s) => s.toFixed(3)).join(', ')})`],
    ['work per forward', `${r.gops_per_forward.toFixed(1)} G op (multiply-add = 2)`],
    ['effective rate', `${r.gflops_per_s.toFixed(1)} G op/s`],
    [`MatMul ${r.matmul_shape.join('×')}`, `${r.matmul_gflops_per_s.toFixed(1)} G op/s`],
    ['model / MatMul', `${(100 * r.ratio_to_matmul).toFixed(0)} %`],
    ['weights', `${r.weights_mb.toFixed(0)} MB`],
    ['build / session', `${r.build_s.toFixed(1)} s / ${r.session_s.toFixed(1)} s`],
    ['peak RSS', `${r.peak_rss_mb.toFixed(0)} MB`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

export function register(program: Command): void {
  const cmd = program.command('bench').description('time the DiT forward pass (random weights, seeded) next to a plain MatMul of the same run');
  addFlags(cmd, ['model', 'imageSize'], { model: BENCH_DEFAULTS.model, imageSize: BENCH_DEFAULTS.imageSize });
  cmd
    .option('--batch <n>', 'batch size (2 = one image with guidance)', String(BENCH_DEFAULTS.batch))
    .addOption(flag('device'))
    .addOption(flag('attention'))
    .addOption(flag('threads'))
    .addOption(flag('dtype'))
    .option('--repeats <n>', 'timed forwards after one warm-up', String(BENCH_DEFAULTS.repeats))
    .option('--opt-level <level>', `graph optimisation: ${GRAPH_OPTIMIZATION_LEVELS.join(' | ')}`, BENCH_DEFAULTS.optLevel)
    .addOption(flag('json'))
    .action(async (f: BenchFlags) => {
      const o = resolveBenchOptions(f);
      const result = await benchDiT({
        config: o.config,
        model: o.model,
        batch: o.batch,
        repeats: o.repeats,
        device: o.device,
        threads: o.threads,
        graphOptimizationLevel: o.graphOptimizationLevel,
        graph: { attention: o.attention, dtype: o.dtype },
      });
      if (!f.json) process.stdout.write(`${table(result)}\n`);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });
}
