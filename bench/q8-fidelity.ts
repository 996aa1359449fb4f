/**
 * How far q8 moves the DiT, per choice of layers kept in fp32: on the embedded Fashion-MNIST model
 * (trained weights) and on the dit-tiny fixture (random weights), against fp32 in the same run.
 * A table and one JSON line.
 *
 *   npx tsx bench/q8-fidelity.ts [--images 16] [--steps 50] [--tiny DIR]
 *
 * - forward: ‖out_q8 − out_fp32‖ / ‖out_fp32‖ of one forward (x ~ N(0, 1), t ∈ {0, 250, 500, 750,
 *   999}, labels incl. the null class), the mean and worst over those t;
 * - images (embedded model only, pixel space): DDIM (η = 0) with CFG 4, the same seeds; PSNR of each
 *   image against fp32's, both clamped to [−1, 1] (peak-to-peak 2), mean and worst.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMBEDDED_MODEL_DIR } from '../src/assets.js';
import { loadDiTCheckpoint, type DiTCheckpoint } from '../src/checkpoint/index.js';
import { createTorchGenerator } from '../src/diffusion/random.js';
import { createSchedule } from '../src/diffusion/schedule.js';
import { guidedModel } from '../src/diffusion/guidance.js';
import { SAMPLER_FUNCTIONS } from '../src/diffusion/samplers/index.js';
import { ditOutChannels } from '../src/models/dit.js';
import { DEFAULT_Q8_BLOCKWISE_LAYERS, DEFAULT_Q8_FP32_LAYERS, type Q8LayerKind } from '../src/models/quantize.js';
import { createDiTSession, type DiTSession } from '../src/runtime/index.js';
import { arg } from './args.js';
import { probeForwards, psnr } from './fidelity-probes.js';
import { relativeError } from '../test/helpers/compare.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tinyDir = arg('--tiny', path.join(root, 'test/fixtures/dit-tiny'));
const imageCount = Number(arg('--images', '16'));
const steps = Number(arg('--steps', '50'));
const threads = Number(arg('--threads', '2'));

const VARIANTS: Array<{ label: string; q8?: boolean; keep?: readonly Q8LayerKind[]; blockwise?: readonly Q8LayerKind[] }> = [
  { label: 'fp32' },
  { label: 'q8 default', q8: true },
  { label: 'q8 all linears', keep: [] },
  { label: 'q8 fp32: adaLN', keep: ['adaLN'] },
  { label: 'q8 fp32: embed+final', keep: ['embed', 'final'] },
  { label: 'q8 fp32: adaLN+embed+final', keep: ['embed', 'adaLN', 'final'] },
  { label: 'q8 fp32: adaLN+embed+final+fc2', keep: ['embed', 'adaLN', 'final', 'fc2'] },
  { label: 'q8 fp32: embed+final; adaLN blockwise', keep: ['embed', 'final'], blockwise: ['adaLN'] },
  { label: 'q8 all; adaLN+embed+final blockwise', keep: [], blockwise: ['embed', 'adaLN', 'final'] },
  { label: 'q8 fp32: embed+final; adaLN+fc2 blockwise', keep: ['embed', 'final'], blockwise: ['adaLN', 'fc2'] },
];


async function open(ckpt: DiTCheckpoint, v: (typeof VARIANTS)[number]): Promise<DiTSession> {
  if (v.keep) return createDiTSession(ckpt, { threads, dtype: 'q8', graph: { q8KeepFp32: v.keep, q8Blockwise: v.blockwise ?? [] } });
  return createDiTSession(ckpt, { threads, dtype: v.q8 ? 'q8' : 'fp32' });
}


/** DDIM images (pixel space), `imageCount` of them in batches of 8 labels, seeds 0, 1, …. */
async function images(s: DiTSession): Promise<Float32Array[]> {
  const c = s.config;
  const out: Float32Array[] = [];
  const per = c.in_channels * c.input_size ** 2;
  for (let seed = 0; out.length < imageCount; seed++) {
    const labels = Array.from({ length: Math.min(8, imageCount - out.length) }, (_, i) => i % c.num_classes);
    const shape = [labels.length, c.in_channels, c.input_size, c.input_size] as const;
    const rng = createTorchGenerator(seed);
    const z = rng.randn(labels.length * per);
    const model = guidedModel({
      forward: (x, t, y, b) => s.run(x, t, y, b),
      labels,
      nullClass: c.num_classes,
      form: 'all',
      scale: 4,
      inChannels: c.in_channels,
      outChannels: ditOutChannels(c),
      sampleShape: shape,
    });
    const x = await SAMPLER_FUNCTIONS.ddim({ model, x: z, shape, schedule: createSchedule(steps, 'uniform'), rng, noiseBatch: model.noiseBatch, learnedSigma: c.learn_sigma, eta: 0 });
    for (let i = 0; i < labels.length; i++) out.push(x.slice(i * per, (i + 1) * per));
  }
  return out;
}

interface Row { model: string; variant: string; keep_fp32: readonly string[] | null; blockwise: readonly string[]; fwd_rel_mean: number; fwd_rel_max: number; psnr_mean?: number; psnr_min?: number }
const rows: Row[] = [];
const models: Array<{ name: string; dir: string; sample: boolean }> = [
  { name: 'embedded (trained)', dir: EMBEDDED_MODEL_DIR, sample: true },
  ...(tinyDir ? [{ name: 'dit-tiny (random)', dir: path.join(tinyDir, 'model.pt'), sample: false }] : []),
];
for (const m of models) {
  const ckpt = loadDiTCheckpoint(m.dir);
  let refF: Float32Array[] = [];
  let refI: Float32Array[] = [];
  try {
    for (const v of VARIANTS) {
      const s = await open(ckpt, v);
      try {
        const f = await probeForwards(s);
        const im = m.sample ? await images(s) : [];
        if (v.label === 'fp32') {
          refF = f;
          refI = im;
        }
        const errs = f.map((o, i) => relativeError(o, refF[i]!));
        const ps = im.map((o, i) => psnr(o, refI[i]!));
        rows.push({
          model: m.name,
          variant: v.label,
          keep_fp32: v.keep ?? (v.q8 ? DEFAULT_Q8_FP32_LAYERS : null),
          blockwise: v.blockwise ?? (v.q8 ? DEFAULT_Q8_BLOCKWISE_LAYERS : []),
          fwd_rel_mean: errs.reduce((a, b) => a + b, 0) / errs.length,
          fwd_rel_max: Math.max(...errs),
          ...(m.sample ? { psnr_mean: ps.reduce((a, b) => a + Math.min(b, 99), 0) / ps.length, psnr_min: Math.min(...ps) } : {}),
        });
        process.stderr.write(`${m.name} ${v.label} done\n`);
      } finally {
        await s.release();
      }
    }
  } finally {
    ckpt.weights.close();
  }
}

console.log(`q8 vs fp32: one forward (mean / worst over t ∈ {0, 250, 500, 750, 999}); DDIM-${steps} CFG 4 PSNR over ${imageCount} images (embedded model)`);
console.log('model               variant                                     fwd rel mean  fwd rel max  PSNR mean  PSNR worst');
for (const r of rows) {
  const p = (v: number | undefined) => (v === undefined ? '—' : Number.isFinite(v) ? v.toFixed(1) : '∞').padStart(9);
  console.log(`${r.model.padEnd(19)} ${r.variant.padEnd(43)} ${r.fwd_rel_mean.toExponential(2).padStart(12)} ${r.fwd_rel_max.toExponential(2).padStart(12)}  ${p(r.psnr_mean)}  ${p(r.psnr_min)}`);
}
console.log(JSON.stringify({ bench: 'q8-fidelity', steps, images: imageCount, rows }));
