/**
 * Correctness on a device, for bench/gpu.sh: the dit-tiny fixture (computed by the official
 * models.py and diffusion code) run through the built library on --device, against the stored
 * references.
 *   - forward: model.forward(x, t, y) with each attention form, ‖out − ref‖ / ‖ref‖
 *   - sample: the fixture's first sampling case (guided DDPM, PyTorch-seeded noise) through the
 *     pipeline, kept half against the official loop's result
 *   - embedded: the embedded model (64 tokens) on --device with each attention form against the
 *     CPU. The 16-token fixture cannot show what ONNX Runtime 1.30's WebGPU MultiHeadAttention
 *     did on lavapipe from 32 tokens on (2e-2 off; runtime/devices.ts DEFAULT_ATTENTION).
 *   - tokens256: DiT-XL/2-256's attention shapes (256 tokens, 16 heads of 72, batch 2) in one block
 *     of random weights, each form on --device against the CPU, and fused against plain: whether
 *     the fused form is right at XL's sequence length. The MLP is 1× wide (it does not touch
 *     attention; lavapipe runs this in ~7 s a forward, 4× wide in ~27 s), and the qkv weights are 4×
 *     PyTorch's default init: with the default, the logits' spread is ~0.3 and softmax near
 *     uniform, which hides a wrong kernel (lavapipe: fused 7e-5 from the CPU, 4e-3 with 4×).
 *
 *   node bench/gpu-check.mjs --fixtures DIR --device webgpu --out result.json
 *
 * DIR holds dit-tiny/. Plain JavaScript over dist/ so that it runs with the GPU kit's node alone.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadDiTCheckpoint, readNpy } from '../dist/checkpoint/index.js';
import { createPipeline } from '../dist/index.js';
import { createDiTSession } from '../dist/runtime/index.js';
import { randomDiTWeights, randomTensor } from '../dist/runtime/bench.js';
import { ditConfigFor } from '../dist/models/dit.js';
import { relativeError } from './relative-error.mjs';

const { values } = parseArgs({ options: { fixtures: { type: 'string' }, device: { type: 'string', default: 'webgpu' }, out: { type: 'string' } } });
if (!values.fixtures || !values.out) throw new Error('usage: node bench/gpu-check.mjs --fixtures DIR --device webgpu --out FILE');
const dir = path.join(values.fixtures, 'dit-tiny');
const device = values.device;
const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));

const result = { device, fixtures: path.resolve(values.fixtures), forward: [], sample: null, embedded: [], tokens256: null };

/** One forward of `source` on the CPU (the reference), then with each attention form on --device. */
async function formsAgainstCpu(source, x, t, y) {
  const n = t.length;
  const cpu = await createDiTSession(source, { device: 'cpu' });
  let want;
  try {
    want = await cpu.run(x, t, y, n);
  } finally {
    await cpu.release();
  }
  const outs = {};
  const forms = [];
  for (const attention of ['fused', 'plain']) {
    const session = await createDiTSession(source, { device, attention });
    try {
      outs[attention] = await session.run(x, t, y, n);
      forms.push({ attention, relative_error_vs_cpu: relativeError(outs[attention], want), finite: outs[attention].every(Number.isFinite) });
    } finally {
      await session.release();
    }
  }
  return { forms, fusedVsPlain: relativeError(outs.fused, outs.plain) };
}

const ckpt = loadDiTCheckpoint(path.join(dir, 'model.safetensors'));
const fc = manifest.forward;
const x = readNpy(path.join(dir, fc.x));
const ref = readNpy(path.join(dir, fc.out));
for (const attention of ['fused', 'plain']) {
  const session = await createDiTSession(ckpt, { device, attention });
  try {
    const out = await session.run(x.data, fc.t, fc.y, fc.t.length);
    result.forward.push({ attention, relative_error: relativeError(out, ref.data), finite: out.every(Number.isFinite) });
  } finally {
    await session.release();
  }
}

// The first case of the manifest: guided, DDPM (the official p_sample_loop).
const sc = manifest.samples[0];
const cacheDir = mkdtempSync(path.join(tmpdir(), 'dit-gpu-check-'));
try {
  const pipeline = await createPipeline({ ckpt: path.join(dir, 'model.safetensors'), vae: 'none', device, cacheDir });
  try {
    const r = await pipeline.generate({ classLabels: sc.labels, cfgScale: sc.cfg, numSamplingSteps: sc.steps, seed: sc.seed, sampler: sc.sampler ?? 'ddpm' });
    const want = readNpy(path.join(dir, sc.out));
    result.sample = { case: sc, relative_error: relativeError(r.latents.data, want.data), shape: r.latents.shape };
  } finally {
    await pipeline.dispose();
  }
} finally {
  rmSync(cacheDir, { recursive: true, force: true });
}
ckpt.weights.close();

// The embedded model against the CPU, on a fixed pseudo-random input (Box–Muller over a 32-bit LCG).
const emb = loadDiTCheckpoint(fileURLToPath(new URL('../assets/fashion-mnist/model.safetensors', import.meta.url)));
try {
  const { in_channels: c, input_size: s } = emb.config;
  const n = 2;
  const xe = new Float32Array(n * c * s * s);
  let state = 12345;
  const uniform = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) + 1) / 4294967297;
  for (let i = 0; i < xe.length; i++) xe[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  result.embedded = (await formsAgainstCpu(emb, xe, [999, 250], [3, 7])).forms;
} finally {
  emb.weights.close();
}

// DiT-XL/2 at 256 px: a 32×32 latent in 2×2 patches.
{
  const xl = ditConfigFor('DiT-XL/2', { input_size: 32 });
  const config = { ...xl, depth: 1, mlp_ratio: 1 };
  const base = randomDiTWeights(config, 5);
  const QKV_GAIN = 4;
  const weights = (name) => {
    const w = base(name);
    if (/\.attn\.qkv\.weight$/.test(name)) for (let i = 0; i < w.length; i++) w[i] *= QKV_GAIN;
    return w;
  };
  const n = 2;
  const x = randomTensor(n * config.in_channels * config.input_size ** 2, 11, 1);
  const { forms, fusedVsPlain } = await formsAgainstCpu({ config, weights }, x, [999, 250], [207, 1000]);
  result.tokens256 = {
    tokens: (config.input_size / config.patch_size) ** 2,
    heads: config.num_heads,
    head_size: config.hidden_size / config.num_heads,
    batch: n,
    depth: config.depth,
    qkv_gain: QKV_GAIN,
    forms,
    fused_vs_plain: fusedVsPlain,
  };
}

writeFileSync(values.out, `${JSON.stringify(result)}\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
