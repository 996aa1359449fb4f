/** `dit bench`: time the DiT forward pass of a named variant with random weights (no file needed). */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { DIT_VARIANTS, ditConfigFor, type DiTVariantName } from '../models/dit.js';
import { benchDiT, type BenchResult } from '../runtime/bench.js';
import { DEVICES, isDevice, type GraphOptimizationLevel } from '../runtime/index.js';

interface BenchFlags {
  model: string;
  imageSize: string;
  batch: string;
  device: string;
  attention: string;
  threads?: string;
  repeats: string;
  optLevel: string;
  json?: boolean;
}

const LEVELS: readonly GraphOptimizationLevel[] = ['disabled', 'basic', 'extended', 'all'];

function positiveInt(flag: string, v: string, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} ${v}: must be an integer from 1 to ${max}`);
  return n;
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
  program
    .command('bench')
    .description('time the DiT forward pass (random weights, seeded) next to a plain MatMul of the same run')
    .option('--model <name>', `DiT variant: ${Object.keys(DIT_VARIANTS).join(', ')}`, 'DiT-XL/2')
    .option('--image-size <px>', 'image size (latent = size / 8)', '256')
    .option('--batch <n>', 'batch size (2 = one image with guidance)', '2')
    .option('--device <d>', `${Object.keys(DEVICES).join(' | ')}`, 'cpu')
    .option('--attention <form>', 'fused (com.microsoft.MultiHeadAttention) | plain', 'fused')
    .option('--threads <n>', 'intra-op threads (default: ONNX Runtime decides)')
    .option('--repeats <n>', 'timed forwards after one warm-up', '5')
    .option('--opt-level <level>', `graph optimisation: ${LEVELS.join(' | ')}`, 'all')
    .option('--json', 'print only the JSON line')
    .action(async (f: BenchFlags) => {
      if (!Object.hasOwn(DIT_VARIANTS, f.model)) throw new UsageError(`--model ${f.model}: must be one of ${Object.keys(DIT_VARIANTS).join(', ')}`);
      const size = positiveInt('--image-size', f.imageSize, 4096);
      if (size % 8 !== 0) throw new UsageError(`--image-size ${size}: must be a multiple of 8 (the VAE downsamples by 8)`);
      const config = ditConfigFor(f.model as DiTVariantName, { input_size: size / 8 });
      if (config.input_size % config.patch_size !== 0) {
        throw new UsageError(`--image-size ${size}: the latent side ${size / 8} must be a multiple of ${f.model}'s patch size ${config.patch_size}`);
      }
      if (!isDevice(f.device)) throw new UsageError(`--device ${f.device}: must be one of ${Object.keys(DEVICES).join(', ')}`);
      if (f.attention !== 'fused' && f.attention !== 'plain') throw new UsageError(`--attention ${f.attention}: must be fused or plain`);
      if (!LEVELS.includes(f.optLevel as GraphOptimizationLevel)) throw new UsageError(`--opt-level ${f.optLevel}: must be one of ${LEVELS.join(', ')}`);
      const result = await benchDiT({
        config,
        model: f.model,
        batch: positiveInt('--batch', f.batch, 1024),
        repeats: positiveInt('--repeats', f.repeats, 1000),
        device: f.device,
        threads: f.threads === undefined ? undefined : positiveInt('--threads', f.threads, 1024),
        graphOptimizationLevel: f.optLevel as GraphOptimizationLevel,
        graph: { attention: f.attention },
      });
      if (!f.json) process.stdout.write(`${table(result)}\n`);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });
}
