/**
 * How far WebGPU moves the embedded model's results from the CPU's: one forward (relative error at
 * t ∈ {0, 250, 500, 750, 999}) and whole sampling runs (the same seed on both devices), step by
 * step. A table and one JSON line. Not a timing bench: the two devices run one after the other.
 *
 *   XDG_RUNTIME_DIR=… npx tsx bench/webgpu-drift.ts [--images 4] [--ddpm-steps 100] [--ddim-steps 50]
 *
 * Per step: ‖x_webgpu − x_cpu‖ / ‖x_cpu‖ of the sample after that step. Final: the largest
 * difference of the [−1, 1] images and of their 8-bit forms (torchvision's rounding, as the PNGs).
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { createPipeline } from '../src/pipeline.js';
import { loadDiTCheckpoint } from '../src/checkpoint/index.js';
import { EMBEDDED_MODEL_DIR } from '../src/assets.js';
import { createDiTSession } from '../src/runtime/index.js';
import { createTorchGenerator } from '../src/diffusion/random.js';
import { relativeError } from '../test/helpers/compare.js';
import { arg } from './args.js';

const images = Number(arg('--images', '4'));
const runs = [
  { sampler: 'ddpm', steps: Number(arg('--ddpm-steps', '100')) },
  { sampler: 'ddim', steps: Number(arg('--ddim-steps', '50')) },
];
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-drift-'));

// One forward on each device.
const ckpt = loadDiTCheckpoint(EMBEDDED_MODEL_DIR);
const c = ckpt.config;
const x = createTorchGenerator(7).randn(4 * c.in_channels * c.input_size ** 2);
const labels = [0, 1, c.num_classes - 1, c.num_classes];
const forward: Record<string, Float32Array[]> = {};
for (const device of ['cpu', 'webgpu'] as const) {
  const s = await createDiTSession(ckpt, { device });
  forward[device] = [];
  for (const t of [0, 250, 500, 750, 999]) forward[device].push(await s.run(x, [t, t, t, t], labels, 4));
  await s.release();
}
ckpt.weights.close();
const forwardErrors = forward.cpu!.map((o, i) => relativeError(forward.webgpu![i]!, o));

const to8 = (v: number) => Math.round(Math.min(255, Math.max(0, (v + 1) * 127.5)));
const results = [];
for (const r of runs) {
  const traj: Record<string, Float32Array[]> = {};
  const finals: Record<string, Float32Array> = {};
  for (const device of ['cpu', 'webgpu'] as const) {
    const p = await createPipeline({ device, cacheDir });
    traj[device] = [];
    const res = await p.generate(
      { classLabels: Array.from({ length: images }, (_, i) => i % 10), numSamplingSteps: r.steps, sampler: r.sampler, seed: 0, cfgScale: 4 },
      { onStep: (s) => traj[device]!.push(s.x.slice()) },
    );
    finals[device] = res.images!.data;
    await p.dispose();
  }
  const perStep = traj.cpu!.map((xc, i) => relativeError(traj.webgpu![i]!, xc));
  let maxAbs = 0;
  let max8 = 0;
  let changed8 = 0;
  const a = finals.cpu!;
  const b = finals.webgpu!;
  for (let i = 0; i < a.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
    const d = Math.abs(to8(a[i]!) - to8(b[i]!));
    max8 = Math.max(max8, d);
    if (d > 0) changed8++;
  }
  results.push({ sampler: r.sampler, steps: r.steps, images, per_step_rel: perStep, final_max_abs: maxAbs, final_max_8bit: max8, changed_8bit: changed8, pixels: a.length });
  process.stderr.write(`${r.sampler} ${r.steps} done\n`);
}
fs.rmSync(cacheDir, { recursive: true, force: true });

console.log('WebGPU vs CPU, embedded model (same seed)');
console.log(`one forward, relative error at t = 0, 250, 500, 750, 999: ${forwardErrors.map((e) => e.toExponential(1)).join(', ')}`);
console.log('run           per-step rel. error (first / 25% / 50% / 75% / last)        final max |Δ|  max 8-bit Δ  8-bit values changed');
for (const r of results) {
  const q = [0, 0.25, 0.5, 0.75, 1].map((f) => r.per_step_rel[Math.min(r.per_step_rel.length - 1, Math.round(f * (r.per_step_rel.length - 1)))]!);
  console.log(
    `${`${r.sampler} ${r.steps}`.padEnd(13)} ${q.map((e) => e.toExponential(1)).join(' / ').padEnd(55)} ${r.final_max_abs.toExponential(1).padStart(13)} ${String(r.final_max_8bit).padStart(12)}  ${r.changed_8bit} of ${r.pixels}`,
  );
}
console.log(JSON.stringify({ bench: 'webgpu-drift', forward_rel: forwardErrors, runs: results.map((r) => ({ ...r, per_step_rel_max: Math.max(...r.per_step_rel) })) }));
