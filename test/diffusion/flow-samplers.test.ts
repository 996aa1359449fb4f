/**
 * SiT's and REPA's samplers against their official code (test/fixtures/sit-tiny, repa-tiny, made
 * by scripts/fixtures/generate_sit.py with willisma/SiT, sihyun-yu/REPA and torchdiffeq on the
 * CPU): forwards within 1e-5, every trajectory within 1e-4 (‖Δ‖/‖ref‖), dopri5's function
 * evaluations and their times exactly, and the float64 normal draws REPA's SDE makes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDiTSession, type DiTSession } from '../../src/runtime/index.js';
import type { DiTConfig } from '../../src/models/dit-config.js';
import { createTorchGenerator } from '../../src/diffusion/random.js';
import { torchLinspace, type FlowSamplerOptions, type SitLastStep, type VelocityModelFn } from '../../src/diffusion/flow.js';
import { odeintDopri5 } from '../../src/diffusion/samplers/dopri5.js';
import { sampleSitOdeDopri5, sampleSitOdeEuler, sampleSitOdeHeun, sampleSitSdeEuler, sampleSitSdeHeun } from '../../src/diffusion/samplers/sit.js';
import { sampleRepaOdeEuler, sampleRepaOdeHeun, sampleRepaSde } from '../../src/diffusion/samplers/repa.js';
import { readNpy, readSafetensorsF32 } from '../models/dit-fixture.js';
import { relativeError } from '../helpers/compare.js';
import { fixtureDir, tempDir } from '../helpers/fixtures.js';

const sitDir = fixtureDir('sit-tiny');
const repaDir = fixtureDir('repa-tiny');
const json = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

interface SitCase {
  name: string;
  mode: 'ODE' | 'SDE';
  method: string;
  labels: number[];
  cfg: number | null;
  steps: number;
  seed: number;
  atol?: number;
  rtol?: number;
  last_step?: string | null;
  last_step_size?: number;
  trajectory: string;
  initial_noise: string;
  shape: number[];
  nfe?: number;
  call_t?: number[];
}
interface RepaCase {
  name: string;
  mode: 'sde' | 'ode';
  labels: number[];
  cfg: number;
  guidance_low: number;
  guidance_high: number;
  steps: number;
  seed: number;
  heun?: boolean;
  initial_noise: string;
  inputs: string;
  call_t: number[];
  out: string;
}
const sitManifest = json(path.join(sitDir, 'manifest.json')) as {
  config: DiTConfig;
  forward: { x: string; t: number[]; y: number[]; out: string };
  cases: SitCase[];
  analytic: Array<{ name: string; k: number; w: number; t: number[]; atol: number; rtol: number; y0: string; solution: string; nfe: number; call_t: number[]; accepted: unknown[]; rejected: unknown[] }>;
};
const repaManifest = json(path.join(repaDir, 'manifest.json')) as {
  config: Record<string, number | boolean | string | number[]>;
  forward: { x: string; t: number[]; y: number[]; out: string };
  cases: RepaCase[];
  randn64: Array<{ seed: number; shape: number[]; file: string }>;
};

const C = 4;
const S = 8;
const imageSize = C * S * S;

/** float64 little-endian C-order .npy. */
function readNpyF64(file: string): Float64Array {
  const buf = readFileSync(file);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLen).toString('latin1');
  if (!header.includes("'descr': '<f8'")) throw new Error(`${file}: not float64 (${header})`);
  const bytes = buf.subarray(10 + headerLen);
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

const f32 = Math.fround;
const repaConfig: DiTConfig = {
  input_size: repaManifest.config.input_size as number,
  patch_size: repaManifest.config.patch_size as number,
  in_channels: repaManifest.config.in_channels as number,
  hidden_size: repaManifest.config.hidden_size as number,
  depth: repaManifest.config.depth as number,
  num_heads: repaManifest.config.num_heads as number,
  mlp_ratio: repaManifest.config.mlp_ratio as number,
  class_dropout_prob: repaManifest.config.class_dropout_prob as number,
  num_classes: repaManifest.config.num_classes as number,
  learn_sigma: false,
};

let sit: DiTSession;
let repa: DiTSession;
beforeAll(async () => {
  const cacheDir = tempDir();
  const sitWeights = readSafetensorsF32(path.join(sitDir, 'model.safetensors'));
  sit = await createDiTSession({ config: sitManifest.config, weights: (k: string) => sitWeights.get(k)!.data, path: path.join(sitDir, 'model.safetensors') }, { cacheDir, noCache: true });
  const repaWeights = readSafetensorsF32(path.join(repaDir, 'model.safetensors'));
  repa = await createDiTSession({ config: repaConfig, weights: (k: string) => repaWeights.get(k)!.data, path: path.join(repaDir, 'model.safetensors') }, { cacheDir, noCache: true });
});
afterAll(async () => {
  await sit?.release();
  await repa?.release();
});

/** SiT's forward: DiT's with the learned-sigma half dropped. */
function sitForward(calls: number[]): VelocityModelFn {
  return async (x, t, y, batch) => {
    calls.push(t[0]!);
    const out = await sit.run(x, t, y, batch);
    const velocity = new Float32Array(batch * imageSize);
    for (let b = 0; b < batch; b++) velocity.set(out.subarray(2 * b * imageSize, (2 * b + 1) * imageSize), b * imageSize);
    return velocity;
  };
}

describe('forward passes', () => {
  it('SiT: the DiT network with the sigma half dropped, continuous t (1e-5)', async () => {
    const x = readNpy(path.join(sitDir, sitManifest.forward.x));
    const out = await sitForward([])(x.data, Float32Array.from(sitManifest.forward.t), Int32Array.from(sitManifest.forward.y), 3);
    expect(relativeError(out, readNpy(path.join(sitDir, sitManifest.forward.out)).data)).toBeLessThan(1e-5);
  });

  it('REPA: 4 output channels, projectors unused (1e-5)', async () => {
    const x = readNpy(path.join(repaDir, repaManifest.forward.x));
    const out = await repa.run(x.data, Float32Array.from(repaManifest.forward.t), Int32Array.from(repaManifest.forward.y), 3);
    expect(relativeError(out, readNpy(path.join(repaDir, repaManifest.forward.out)).data)).toBeLessThan(1e-5);
  });
});

describe('torchdiffeq dopri5', () => {
  it.each(sitManifest.analytic.map((c) => [c.name, c] as const))('%s: the same evaluations, rejected steps included, and solution', async (_n, c) => {
    const calls: number[] = [];
    const f = async (t: number, y: Float32Array) => {
      calls.push(t);
      const a = f32(f32(-c.k * f32(Math.sin(f32(c.w * t)))));
      const b = f32(Math.cos(t));
      return y.map((v) => f32(f32(a * v) + b));
    };
    const y0 = readNpy(path.join(sitDir, c.y0)).data;
    let accepted = 0;
    const ys = await odeintDopri5(f, y0, c.t, { atol: c.atol, rtol: c.rtol, onAcceptedStep: () => accepted++ });
    expect(c.rejected.length).toBeGreaterThan(0);
    expect(calls.length).toBe(c.nfe);
    expect(accepted).toBe(c.accepted.length);
    // The first steps are bit for bit; the error estimate is a float32 difference of nearly equal
    // stages, so a last-bit difference in sin/cos (V8's vs glibc's) later moves step sizes slightly.
    expect(calls.slice(0, 20)).toEqual(c.call_t.slice(0, 20));
    expect(Math.max(...calls.map((t, i) => Math.abs(t - c.call_t![i]!)))).toBeLessThan(1e-4);
    const ref = readNpy(path.join(sitDir, c.solution)).data;
    const got = new Float32Array(ref.length);
    ys.forEach((y, i) => got.set(y, i * y0.length));
    expect(relativeError(got, ref)).toBeLessThan(1e-4);
  });
});

describe('torch.linspace', () => {
  it('float32 grids are the values SiT feeds its model', () => {
    const euler = sitManifest.cases.find((c) => c.name === 'ode-euler')!;
    expect(torchLinspace(0, 1, euler.steps, 'float32').slice(0, -1)).toEqual(euler.call_t);
  });
});

const SIT_SAMPLERS = {
  'ODE euler': sampleSitOdeEuler,
  'ODE heun2': sampleSitOdeHeun,
  'ODE dopri5': sampleSitOdeDopri5,
  'SDE Euler': sampleSitSdeEuler,
  'SDE Heun': sampleSitSdeHeun,
} as const;

describe('SiT samplers (transport/ + torchdiffeq)', () => {
  it.each(sitManifest.cases.map((c) => [c.name, c] as const))('%s matches the official trajectory', async (_n, c) => {
    const n = c.labels.length;
    const z = createTorchGenerator(c.seed).randn(n * imageSize);
    expect(relativeError(z, readNpy(path.join(sitDir, c.initial_noise)).data)).toBeLessThan(1e-6);
    const calls: number[] = [];
    const steps: Float32Array[] = [];
    const options: FlowSamplerOptions = {
      forward: sitForward(calls),
      labels: c.labels,
      nullClass: sitManifest.config.num_classes,
      x: z,
      shape: [n, C, S, S],
      numSteps: c.steps,
      guidance: c.cfg === null ? { form: 'off', scale: 1 } : { form: 'dit', scale: c.cfg },
      rng: createTorchGenerator(c.seed),
      atol: c.atol,
      rtol: c.rtol,
      lastStep: c.last_step === undefined ? undefined : ((c.last_step?.toLowerCase() ?? 'none') as SitLastStep),
      lastStepSize: c.last_step_size,
      onStep: (s) => steps.push(s.x),
    };
    options.rng!.randn(n * imageSize); // the stream after z, as in sample.py
    const sampler = SIT_SAMPLERS[`${c.mode} ${c.method}` as keyof typeof SIT_SAMPLERS];
    const final = await sampler(options);

    // The kept images of every official state: [steps, N, C, H, W].
    const ref = readNpy(path.join(sitDir, c.trajectory)).data;
    const kept = (i: number) => ref.subarray(i * n * imageSize, (i + 1) * n * imageSize);
    const ours = c.mode === 'ODE' ? [z, ...steps] : steps;
    if (c.mode === 'SDE' && c.last_step === null) ours.push(final); // no last step: the last state again
    expect(ours.length).toBe(c.shape[0]);
    for (let i = 0; i < ours.length; i++) expect(relativeError(ours[i]!, kept(i)), `state ${i}`).toBeLessThan(1e-4);
    expect(relativeError(final, kept(c.shape[0]! - 1))).toBeLessThan(1e-4);
    if (c.nfe !== undefined) {
      // The same number of function evaluations, the first step (initial step selection) to float32
      // rounding. Later times agree to < 1e-2, not to the last bit: the first step is so short
      // that its error estimate is float32 noise of the model output (ONNX Runtime's rounding is
      // not PyTorch's), and the next step size follows from it; the analytic case above shows the
      // controller itself bit for bit.
      expect(calls.length).toBe(c.nfe);
      expect(Math.max(...calls.slice(0, 8).map((t, i) => Math.abs(t - c.call_t![i]!)))).toBeLessThan(1e-6);
      expect(Math.max(...calls.map((t, i) => Math.abs(t - c.call_t![i]!)))).toBeLessThan(1e-2);
    }
  });
});

const REPA_SAMPLERS = { sde: sampleRepaSde, ode: sampleRepaOdeEuler, 'ode-heun': sampleRepaOdeHeun } as const;

describe('REPA samplers (samplers.py)', () => {
  it.each(repaManifest.cases.map((c) => [c.name, c] as const))('%s: every model input and the result match', async (_n, c) => {
    const n = c.labels.length;
    const z = createTorchGenerator(c.seed).randn(n * imageSize);
    expect(relativeError(z, readNpy(path.join(repaDir, c.initial_noise)).data)).toBeLessThan(1e-6);
    const inputs: Float32Array[] = [];
    const times: number[] = [];
    const rng = createTorchGenerator(c.seed);
    rng.randn(n * imageSize);
    const sampler = REPA_SAMPLERS[(c.mode === 'ode' && c.heun ? 'ode-heun' : c.mode) as keyof typeof REPA_SAMPLERS];
    const final = await sampler({
      forward: async (x, t, y, batch) => {
        inputs.push(x.slice(0, n * imageSize));
        times.push(t[0]!);
        return repa.run(x, t, y, batch);
      },
      labels: c.labels,
      nullClass: repaConfig.num_classes,
      x: z,
      shape: [n, C, S, S],
      numSteps: c.steps,
      guidance: { form: 'all', scale: c.cfg, interval: [c.guidance_low, c.guidance_high] },
      rng,
    });
    expect(times).toEqual(c.call_t.map(f32));
    const ref = readNpy(path.join(repaDir, c.inputs)).data;
    const got = new Float32Array(ref.length);
    inputs.forEach((x, i) => got.set(x, i * n * imageSize));
    expect(relativeError(got, ref)).toBeLessThan(1e-4);
    expect(relativeError(final, readNpy(path.join(repaDir, c.out)).data)).toBeLessThan(1e-4);
  });

  it.each(repaManifest.randn64.map((c) => [c.shape.join('×'), c] as const))('torch.randn(%s, dtype=float64)', (_s, c) => {
    const want = readNpyF64(path.join(repaDir, c.file));
    const got = createTorchGenerator(c.seed).randnDouble(want.length);
    expect(Math.max(...got.map((v, i) => Math.abs(v - want[i]!)))).toBeLessThan(1e-12);
  });
});
