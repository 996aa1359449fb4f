/**
 * Is a 4-bit DiT worth offering? q4 candidates (com.microsoft.MatMulNBits with 4-bit weights, blocks
 * of 32 or 128, int8 activations (accuracy level 4) or fp32 activations (level 1)) against fp32 and
 * q8, all in one run. Each q4 candidate keeps in fp32 what q8 keeps (DEFAULT_Q8_FP32_LAYERS) and
 * quantizes every other linear layer to 4 bits (the last four candidates keep more in fp32, to find
 * where the error comes from). A table, then one JSON line.
 *
 *   npx tsx bench/q4.ts [--images 8] [--repeats 3] [--threads 2] [--no-xl] [--variants "q8,q4 b32 acc4"]
 *
 * - forward, embedded: ‖out − out_fp32‖ / ‖out_fp32‖ of one forward of the embedded Fashion-MNIST
 *   model (trained weights), the probes of bench/fidelity.ts (t ∈ {0, 250, 500, 750, 999}), mean and worst;
 * - PSNR: --images embedded-model images, DDIM 50 (η = 0), CFG 4, the same seeds and labels as fp32,
 *   each against fp32's (bench/fidelity-probes.ts), mean and worst;
 * - DiT-XL/2-256, random weights of the real shapes (runtime/bench.ts), batch 2 (t 0 and 397, labels 1
 *   and the null class): one forward's relative error, the model's size on disk (graph + weights), and
 *   seconds per forward on --threads threads, every variant's session timed in interleaved rounds in
 *   this process (median of --repeats), so that load from other processes hits them alike. The
 *   XL graphs are built one at a time.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EMBEDDED_MODEL_DIR } from '../src/assets.js';
import { loadDiTCheckpoint } from '../src/checkpoint/index.js';
import { saveModel } from '../src/graph/index.js';
import { buildDiTGraph, ditConfigFor, type DiTGraphOptions } from '../src/models/dit.js';
import { DEFAULT_Q8_FP32_LAYERS, type BlockFormat, type Q8LayerKind } from '../src/models/quantize.js';
import { median, randomDiTWeights } from '../src/runtime/bench.js';
import { DEFAULT_ATTENTION } from '../src/runtime/devices.js';
import { createDiTSession, createSession, type Session } from '../src/runtime/index.js';
import { relativeError } from '../test/helpers/compare.js';
import { arg } from './args.js';
import { probeForwards, psnr, sample, xlProbeFeeds } from './fidelity-probes.js';

const imageCount = Number(arg('--images', '8'));
const repeats = Number(arg('--repeats', '3'));
const threads = Number(arg('--threads', '2'));
const withXl = !process.argv.includes('--no-xl');
const CFG = 4;

const ALL_KINDS: readonly Q8LayerKind[] = ['embed', 'adaLN', 'qkv', 'proj', 'fc1', 'fc2', 'final'];
const q4 = (blockSize: number, accuracyLevel: 1 | 4, keep: readonly Q8LayerKind[] = DEFAULT_Q8_FP32_LAYERS): DiTGraphOptions => {
  const blockFormat: BlockFormat = { bits: 4, blockSize, accuracyLevel };
  return { dtype: 'q8', q8KeepFp32: keep, q8Blockwise: ALL_KINDS.filter((k) => !keep.includes(k)), blockFormat };
};
const ALL_VARIANTS: Array<{ label: string; graph: DiTGraphOptions }> = [
  { label: 'fp32', graph: {} },
  { label: 'q8', graph: { dtype: 'q8' } },
  { label: 'q4 b32 acc4', graph: q4(32, 4) },
  { label: 'q4 b128 acc4', graph: q4(128, 4) },
  { label: 'q4 b32 acc1', graph: q4(32, 1) },
  { label: 'q4 b128 acc1', graph: q4(128, 1) },
  // Is the loss in the adaLN (a third of DiT-XL/2's weights; the DiT quantization papers' sensitive part)?
  { label: 'q4 b32 acc4 (adaLN fp32)', graph: q4(32, 4, [...DEFAULT_Q8_FP32_LAYERS, 'adaLN']) },
  // Or in the attention or the MLP linears? (Only one kind in 4 bits, the rest of the block in fp32.)
  { label: 'q4 b32 acc4 (MLP only)', graph: q4(32, 4, [...DEFAULT_Q8_FP32_LAYERS, 'adaLN', 'qkv', 'proj']) },
  { label: 'q4 b32 acc4 (attention only)', graph: q4(32, 4, [...DEFAULT_Q8_FP32_LAYERS, 'adaLN', 'fc1', 'fc2']) },
  { label: 'q4 b32 acc4 (adaLN only)', graph: q4(32, 4, [...DEFAULT_Q8_FP32_LAYERS, 'qkv', 'proj', 'fc1', 'fc2']) },
];
const wanted = arg('--variants', '');
const VARIANTS = ALL_VARIANTS.filter((v) => v.label === 'fp32' || wanted === '' || wanted.split(',').includes(v.label));
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

interface Row {
  variant: string;
  graph: DiTGraphOptions;
  fwd_embedded: { mean: number; worst: number };
  psnr_ddim50: { mean: number; worst: number; images: number };
  xl?: { rel_err: number; size_mb: number; seconds: number[]; seconds_median: number };
}
const rows: Row[] = [];

// 1. The embedded model (trained weights).
const ckpt = loadDiTCheckpoint(EMBEDDED_MODEL_DIR);
try {
  let ref: { fwd: Float32Array[]; images: Float32Array[] } | undefined;
  for (const v of VARIANTS) {
    const s = await createDiTSession(ckpt, { threads, graph: v.graph });
    try {
      const fwd = await probeForwards(s);
      const images = (await sample(s, 'ddim', 50, imageCount, 0, CFG)).images;
      ref ??= { fwd, images };
      const errs = fwd.map((o, i) => relativeError(o, ref!.fwd[i]!));
      const ps = images.map((im, i) => psnr(im, ref!.images[i]!));
      rows.push({
        variant: v.label,
        graph: v.graph,
        fwd_embedded: { mean: errs.reduce((a, b) => a + b, 0) / errs.length, worst: Math.max(...errs) },
        psnr_ddim50: { mean: ps.reduce((a, b) => a + Math.min(b, 99), 0) / ps.length, worst: Math.min(...ps), images: ps.length },
      });
      log(`embedded ${v.label}: ${JSON.stringify(rows.at(-1))}`);
    } finally {
      await s.release();
    }
  }
} finally {
  ckpt.weights.close();
}

// 2. DiT-XL/2-256, random weights, batch 2: error, size, and interleaved timing.
if (withXl) {
  const config = ditConfigFor('DiT-XL/2');
  const feeds = xlProbeFeeds(config);
  const dir = mkdtempSync(path.join(tmpdir(), 'dit-q4-'));
  const sessions: Array<{ row: Row; s: Session; out: Float32Array; size: number; seconds: number[] }> = [];
  try {
    for (const v of VARIANTS) {
      const t0 = performance.now();
      const graph: DiTGraphOptions = { attention: DEFAULT_ATTENTION.cpu, ...v.graph, timestepType: 'float32' }; // what a CPU user gets
      const p = (await saveModel(buildDiTGraph(config, randomDiTWeights(config), graph), path.join(dir, `${sessions.length}.onnx`))).modelPath;
      const size = [p, `${p}.data`].reduce((a, f) => a + (statSync(f, { throwIfNoEntry: false })?.size ?? 0), 0);
      const s = await createSession(p, { threads });
      const out = (await s.run(feeds)).out!.data; // also the warm-up
      for (const f of [p, `${p}.data`]) rmSync(f, { force: true });
      sessions.push({ row: rows.find((r) => r.variant === v.label)!, s, out, size, seconds: [] });
      log(`XL ${v.label}: built and run once in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${(size / 2 ** 20).toFixed(0)} MiB`);
    }
    for (let r = 0; r < repeats; r++) {
      for (const e of sessions) {
        const t0 = performance.now();
        await e.s.run(feeds);
        e.seconds.push((performance.now() - t0) / 1000);
      }
      log(`XL round ${r + 1}: ${sessions.map((e) => `${e.row.variant} ${e.seconds.at(-1)!.toFixed(2)} s`).join(', ')}`);
    }
    for (const e of sessions) {
      e.row.xl = { rel_err: relativeError(e.out, sessions[0]!.out), size_mb: e.size / 2 ** 20, seconds: e.seconds, seconds_median: median(e.seconds) };
    }
  } finally {
    for (const e of sessions) await e.s.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

const x = (v: number) => (v === 0 ? '0' : v.toExponential(1));
const db = (v: { mean: number; worst: number }) => (v.worst === Infinity ? '∞ / ∞' : `${v.mean.toFixed(1)} / ${v.worst.toFixed(1)}`);
const fp32 = rows[0]!.xl;
console.log(`q4 candidates against fp32 and q8, CPU, ${threads} threads; PSNR over ${imageCount} embedded-model images (DDIM 50, CFG ${CFG}); DiT-XL/2-256 batch 2, median of ${repeats} interleaved rounds`);
console.log('| variant | forward, embedded (mean / worst) | PSNR DDIM 50 (mean / worst) | forward, DiT-XL/2 (random) | XL s/forward | × fp32 speed | XL size MiB |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  const xl = r.xl;
  console.log(`| ${r.variant} | ${x(r.fwd_embedded.mean)} / ${x(r.fwd_embedded.worst)} | ${db(r.psnr_ddim50)} | ${xl ? x(xl.rel_err) : '—'} | ${xl ? xl.seconds_median.toFixed(2) : '—'} | ${xl && fp32 ? (fp32.seconds_median / xl.seconds_median).toFixed(2) : '—'} | ${xl ? xl.size_mb.toFixed(0) : '—'} |`);
}
console.log(JSON.stringify({ bench: 'q4', images: imageCount, cfg: CFG, threads, repeats, rows }));
