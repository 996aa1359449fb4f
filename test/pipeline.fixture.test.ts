/**
 * The official sampling loop, reproduced from the seed alone: every case of
 * test/fixtures/dit-tiny/manifest.json (latents after the full official loop, computed by
 * facebookresearch/DiT on the CPU) must match to ‖x − ref‖/‖ref‖ < 1e-4.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { createPipeline, type Pipeline } from '../src/pipeline.js';
import { readNpy } from '../src/checkpoint/index.js';
import { createTorchGenerator } from '../src/diffusion/random.js';
import { relativeError } from './helpers/compare.js';
import { fixtureDir } from './helpers/fixtures.js';

const dir = fixtureDir('dit-tiny');
const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
  samples: Array<{ labels: number[]; cfg: number | null; steps: number; seed: number; sampler?: string; out: string; initial_noise: string }>;
};

let pipeline: Pipeline;
beforeAll(async () => {
  pipeline = await createPipeline({ ckpt: path.join(dir, 'model.pt'), vae: 'none', noCache: true });
});
afterAll(() => pipeline?.dispose());

describe('official sampling loop on dit-tiny', () => {
  it.each(manifest.samples.map((s, i) => [i, s] as const))('case %i matches the official latents from the seed alone', async (_i, s) => {
    const noise = readNpy(path.join(dir, s.initial_noise));
    const z = createTorchGenerator(s.seed).randn(noise.data.length);
    // Box–Muller in float32 vs PyTorch's vectorised log/sin: equal to float32 rounding.
    const maxDiff = z.reduce((m, v, k) => Math.max(m, Math.abs(v - (noise.data as Float32Array)[k]!)), 0);
    expect(z.length).toBe(noise.data.length);
    expect(maxDiff).toBeLessThan(1e-5);

    const result = await pipeline.generate({
      classLabels: s.labels,
      seed: s.seed,
      numSamplingSteps: s.steps,
      sampler: s.sampler ?? 'ddpm',
      cfgScale: s.cfg ?? 1,
      guidance: s.cfg === null ? 'off' : 'dit',
    });
    const ref = readNpy(path.join(dir, s.out));
    expect(result.latents.shape).toEqual(ref.shape);
    const err = relativeError(result.latents.data, ref.data as Float32Array);
    expect(err).toBeLessThan(1e-4);
  });
});
