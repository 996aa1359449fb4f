/**
 * How far each offered precision moves the DiT from fp32, one row per (dtype, device): the README's
 * fidelity table. A table, then one JSON line.
 *
 *   npx tsx bench/fidelity.ts [--images 64] [--class-images 1000] [--class-steps 10]
 *                             [--webgpu-images 16] [--webgpu-class-images 0] [--no-xl] [--threads 2]
 *
 * - forward XL: ‖out − out_fp32‖ / ‖out_fp32‖ of one DiT-XL/2-256 forward, batch 2, random weights of
 *   the real shapes (runtime/bench.ts), t ∈ {0, 397};
 * - forward embedded: the same on the embedded Fashion-MNIST model (trained weights), batch 4
 *   (labels 0, 1, 9 and the null class), mean and worst over t ∈ {0, 250, 500, 750, 999};
 * - PSNR: the embedded model, CFG 4, the same seeds and labels as fp32 (seed i, label i mod 10), DDIM
 *   50 (η = 0, deterministic) and DDPM 100; each image against fp32's, both clamped to [−1, 1]
 *   (peak-to-peak 2), mean and worst;
 * - classifier: accuracy and mean p(label) of the shipped classifier over --class-images images
 *   (DDIM --class-steps, CFG 4, labels cycling 0..9, seeds from 1000); the "fp32, other seeds" row
 *   draws from seeds 100000 on, and its distance from the fp32 row is the seed spread a dtype's
 *   numbers are judged by.
 * fp32 runs on the CPU (the reference); WebGPU rows use fewer images (--webgpu-images), since Mesa's
 * software Vulkan (lavapipe) is slow. Everything runs with the device defaults a user gets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EMBEDDED_MODEL_DIR } from '../src/assets.js';
import { loadDiTCheckpoint, type DiTCheckpoint } from '../src/checkpoint/index.js';
import { saveModel } from '../src/graph/index.js';
import { openEmbeddedClassifier } from '../src/model-files.js';
import { buildDiTGraph, ditConfigFor } from '../src/models/dit.js';
import { DIT_DTYPES, type DiTDtype } from '../src/models/dit-config.js';
import { randomDiTWeights } from '../src/runtime/bench.js';
import { DEFAULT_ATTENTION, DTYPE_DEVICES, type Device } from '../src/runtime/devices.js';
import { createDiTSession, createSession, deviceFailure, type DiTSession } from '../src/runtime/index.js';
import { scoreLogits } from '../src/sweep/metrics.js';
import { relativeError } from '../test/helpers/compare.js';
import { arg } from './args.js';
import { probeForwards, psnr, sample, xlProbeFeeds } from './fidelity-probes.js';

const images = Number(arg('--images', '64'));
const classImages = Number(arg('--class-images', '1000'));
const classSteps = Number(arg('--class-steps', '10'));
const webgpuImages = Number(arg('--webgpu-images', '16'));
const webgpuClassImages = Number(arg('--webgpu-class-images', '0'));
const threads = Number(arg('--threads', '2'));
const withXl = !process.argv.includes('--no-xl');
const onlyDevices = arg('--devices', 'cpu,webgpu').split(',');
const CFG = 4;

interface Run { dtype: DiTDtype; device: Device }
const webgpuProblem = await deviceFailure('webgpu');
// fp32 is the reference, on the CPU (fp32 on WebGPU is within 5e-7 of it: test/models/dit.test.ts);
// a --devices run without the CPU still computes the fp32 reference there.
const offered = (dtype: DiTDtype, d: Device) => (DTYPE_DEVICES[dtype] as readonly Device[]).includes(d) && (dtype !== 'fp32' || d === 'cpu') && (d !== 'webgpu' || webgpuProblem === undefined);
const runs: Run[] = DIT_DTYPES.flatMap((dtype) => (['cpu', 'webgpu'] as const).filter((d) => offered(dtype, d) && (onlyDevices.includes(d) || dtype === 'fp32')).map((device) => ({ dtype, device })));
const label = (r: Run) => `${r.dtype} ${r.device}`;
const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);


/** One DiT-XL/2-256 forward per run, same random weights and inputs. */
async function xlForwards(): Promise<Map<string, Float32Array>> {
  const config = ditConfigFor('DiT-XL/2');
  const dir = mkdtempSync(path.join(tmpdir(), 'dit-fidelity-xl-'));
  const out = new Map<string, Float32Array>();
  const feeds = xlProbeFeeds(config);
  try {
    for (const r of runs.filter((x) => x.device === 'cpu')) {
      const p = (await saveModel(buildDiTGraph(config, randomDiTWeights(config), { attention: DEFAULT_ATTENTION[r.device], ...(r.dtype === 'fp32' ? {} : { dtype: r.dtype }) }), path.join(dir, `${r.dtype}.onnx`))).modelPath;
      const s = await createSession(p, { threads, device: r.device });
      out.set(label(r), (await s.run(feeds)).out!.data);
      await s.release();
      for (const f of [p, `${p}.data`]) rmSync(f, { force: true });
      log(`XL ${label(r)} done`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}


interface Row {
  dtype: DiTDtype;
  device: Device | 'cpu (other seeds)';
  fwd_xl?: number;
  fwd_mean?: number;
  fwd_max?: number;
  psnr?: Record<'ddim50' | 'ddpm100', { mean: number; worst: number; images: number }>;
  classifier?: { accuracy: number; mean_p_label: number; images: number; steps: number };
  seconds: number;
}

const classifier = await openEmbeddedClassifier({ threads });
async function classify(imgs: Float32Array[], labels: number[]): Promise<{ accuracy: number; meanConfidence: number }> {
  const c = 1;
  const side = Math.round(Math.sqrt(imgs[0]!.length / c));
  const logits: number[] = [];
  for (let i = 0; i < imgs.length; i += 256) {
    const part = imgs.slice(i, i + 256);
    const data = new Float32Array(part.length * part[0]!.length);
    part.forEach((im, k) => data.set(im, k * im.length));
    logits.push(...(await classifier.classify({ data, shape: [part.length, c, side, side] })));
  }
  return scoreLogits(Float32Array.from(logits), classifier.numClasses, labels);
}

const ckpt: DiTCheckpoint = loadDiTCheckpoint(EMBEDDED_MODEL_DIR);
const rows: Row[] = [];
// Every PSNR row batches alike, so that its DDPM step noise is the reference's (a WebGPU row of 4
// images against a CPU reference batched by 16 drew other noise and scored 15 dB instead of 60).
const psnrBatch = runs.some((r) => r.device === 'webgpu') ? Math.min(16, webgpuImages) : 16;
let ref: { fwd: Float32Array[]; ddim50: Float32Array[]; ddpm100: Float32Array[] } | undefined;
try {
  for (const r of runs) {
    const t0 = performance.now();
    const s = await createDiTSession(ckpt, { threads, device: r.device, ...(r.dtype === 'fp32' ? {} : { dtype: r.dtype }) });
    try {
      const cpuRun = onlyDevices.includes('cpu');
      const n = r.device === 'webgpu' || !cpuRun ? webgpuImages : images;
      const fwd = await probeForwards(s);
      const ddim50 = (await sample(s, 'ddim', 50, n, 0, CFG, psnrBatch)).images;
      log(`${label(r)}: DDIM 50 done`);
      const ddpm100 = (await sample(s, 'ddpm', 100, n, 0, CFG, psnrBatch)).images;
      log(`${label(r)}: DDPM 100 done`);
      ref ??= { fwd, ddim50, ddpm100 };
      const errs = fwd.map((o, i) => relativeError(o, ref!.fwd[i]!));
      const ps = (a: Float32Array[], b: Float32Array[]) => {
        const v = a.map((im, i) => psnr(im, b[i]!));
        return { mean: v.reduce((x, y) => x + Math.min(y, 99), 0) / v.length, worst: Math.min(...v), images: v.length };
      };
      const m = r.device === 'webgpu' || !cpuRun ? webgpuClassImages : classImages;
      const cls = m > 0 ? await sample(s, 'ddim', classSteps, m, 1000, CFG) : undefined;
      const scores = cls ? await classify(cls.images, cls.labels) : undefined;
      if (cls) log(`${label(r)}: classifier images done`);
      rows.push({
        dtype: r.dtype,
        device: r.device,
        fwd_mean: errs.reduce((a, b) => a + b, 0) / errs.length,
        fwd_max: Math.max(...errs),
        psnr: { ddim50: ps(ddim50, ref.ddim50.slice(0, n)), ddpm100: ps(ddpm100, ref.ddpm100.slice(0, n)) },
        ...(scores ? { classifier: { accuracy: scores.accuracy, mean_p_label: scores.meanConfidence, images: m, steps: classSteps } } : {}),
        seconds: (performance.now() - t0) / 1000,
      });
      log(JSON.stringify(rows.at(-1)));
      if (r.dtype === 'fp32' && cpuRun && classImages > 0) {
        const t1 = performance.now();
        const other = await sample(s, 'ddim', classSteps, classImages, 100000, CFG);
        const sc = await classify(other.images, other.labels);
        rows.push({ dtype: 'fp32', device: 'cpu (other seeds)', classifier: { accuracy: sc.accuracy, mean_p_label: sc.meanConfidence, images: classImages, steps: classSteps }, seconds: (performance.now() - t1) / 1000 });
        log(JSON.stringify(rows.at(-1)));
      }
    } finally {
      await s.release();
    }
  }
} finally {
  ckpt.weights.close();
  await classifier.release();
}
// Last, so that the embedded-model rows are logged even if this is cut short.
if (withXl) {
  const xl = await xlForwards();
  for (const r of rows) {
    const out = xl.get(`${r.dtype} ${r.device}`);
    if (out) r.fwd_xl = relativeError(out, xl.get('fp32 cpu')!);
  }
}

const e = (v: number | undefined) => (v === undefined ? '—' : v === 0 ? '0' : v.toExponential(1));
const p = (v: { mean: number; worst: number } | undefined) => (v === undefined ? '—' : v.worst === Infinity ? '∞ / ∞' : `${v.mean.toFixed(1)} / ${v.worst.toFixed(1)}`);
console.log(`Fidelity against fp32 on the CPU (threads ${threads}); PSNR over ${images} images (WebGPU: ${webgpuImages}), classifier over ${classImages} images (DDIM ${classSteps}, CFG ${CFG})`);
console.log('| dtype | device | forward, DiT-XL/2 (random) | forward, embedded (mean / worst) | PSNR DDIM 50 (mean / worst) | PSNR DDPM 100 (mean / worst) | class acc. | mean p(label) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const cl = r.classifier;
  console.log(`| ${r.dtype} | ${r.device} | ${e(r.fwd_xl)} | ${r.fwd_mean === undefined ? '—' : `${e(r.fwd_mean)} / ${e(r.fwd_max)}`} | ${p(r.psnr?.ddim50)} | ${p(r.psnr?.ddpm100)} | ${cl ? `${(cl.accuracy * 100).toFixed(1)} %` : '—'} | ${cl ? cl.mean_p_label.toFixed(3) : '—'} |`);
}
console.log(JSON.stringify({ bench: 'fidelity', images, class_images: classImages, class_steps: classSteps, webgpu_images: webgpuImages, cfg: CFG, threads, rows }));
