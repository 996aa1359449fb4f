/** The library API: load once, generate with a per-step callback, abort mid-sampling, dispose. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPipeline, type Pipeline } from '../src/index.js';
import { readNpy } from '../src/checkpoint/index.js';
import { UsageError } from '../src/errors.js';
import { fixtureDir } from './helpers/fixtures.js';
import { relativeError } from './helpers/compare.js';

const tiny = fixtureDir('dit-tiny');
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await createPipeline({ ckpt: path.join(tiny, 'model.safetensors'), vae: 'none', noCache: true });
});
afterAll(() => pipeline.dispose());

describe('library API', () => {
  it('describes the loaded model and its defaults', () => {
    expect(pipeline.info.config).toMatchObject({ hidden_size: 64, depth: 2, num_heads: 4, num_classes: 10, input_size: 8 });
    expect(pipeline.info.embedded).toBe(false);
    expect(pipeline.info.defaults).toMatchObject({ numSamplingSteps: 250, cfgScale: 4, sampler: 'ddpm', labels: [0, 1, 2, 3, 4, 5, 6, 7] });
  });

  it('calls onStep once per step with the original timesteps, and is deterministic for a seed', async () => {
    const ts: number[] = [];
    const a = await pipeline.generate({ classLabels: [1, 2], numSamplingSteps: 5, seed: 9 }, { onStep: (s) => ts.push(s.t) });
    // space_timesteps(1000, "5"): stride 999/4 → 0, 250, 500, 749 (round half to even of 749.25), 999; run backwards.
    expect(ts).toEqual([999, 749, 500, 250, 0]);
    const b = await pipeline.generate({ classLabels: [1, 2], numSamplingSteps: 5, seed: 9 });
    expect(Array.from(b.latents.data)).toEqual(Array.from(a.latents.data));
    const c = await pipeline.generate({ classLabels: [1, 2], numSamplingSteps: 5, seed: 10 });
    expect(Array.from(c.latents.data)).not.toEqual(Array.from(a.latents.data));
    expect(a.images).toBeUndefined(); // vae: none
  });

  it('stops when aborted mid-sampling', async () => {
    const controller = new AbortController();
    let steps = 0;
    const run = pipeline.generate(
      { classLabels: [3], numSamplingSteps: 50 },
      {
        signal: controller.signal,
        onStep: () => {
          steps++;
          if (steps === 3) controller.abort();
        },
      },
    );
    await expect(run).rejects.toThrow(/abort/i);
    expect(steps).toBe(3);
  });

  it('validates options with the same resolver as the CLI', async () => {
    await expect(pipeline.generate({ numSamplingSteps: 0 })).rejects.toThrow('--num-sampling-steps 0 is out of range');
    expect(() => pipeline.resolve({ classLabels: [10] })).toThrow('this model has 10 classes');
  });

  it('refuses to run after dispose', async () => {
    const p = await createPipeline({ ckpt: path.join(tiny, 'model.pt'), vae: 'none', noCache: true });
    await p.dispose();
    await expect(p.generate({ classLabels: [0], numSamplingSteps: 2 })).rejects.toThrow('this pipeline was disposed');
  });
});

describe('createPipeline({ attention })', () => {
  it("builds the DiT with the form asked for (the device's by default), each its own cache entry, both the official samples", async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-pipeline-attention-'));
    try {
      // The fixture's first sampling case: the official p_sample_loop's latents (test/fixtures/README.md).
      const sc = { classLabels: [3, 7], cfgScale: 4, numSamplingSteps: 10, seed: 0 };
      const want = readNpy(path.join(tiny, 'sample0.npy')).data as Float32Array;
      const errors: Record<string, number> = {};
      for (const attention of [undefined, 'plain'] as const) {
        const p = await createPipeline({ ckpt: path.join(tiny, 'model.safetensors'), vae: 'none', cacheDir, ...(attention ? { attention } : {}) });
        try {
          expect(p.info.attention).toBe(attention ?? 'fused');
          expect(p.load.attention).toBe(attention ?? 'fused');
          errors[p.info.attention] = relativeError((await p.generate(sc)).latents.data, want);
        } finally {
          await p.dispose();
        }
      }
      // Both forms are the official computation: within the 1e-4 the CLI test holds fp32 to (2.4e-7 measured).
      expect(errors.fused).toBeLessThan(1e-4);
      expect(errors.plain).toBeLessThan(1e-4);
      const compiled = path.join(cacheDir, 'compiled');
      const forms = fs.readdirSync(compiled).map((d) => JSON.parse(fs.readFileSync(path.join(compiled, d, 'meta.json'), 'utf8')).parts.graphOptions.attention);
      expect(forms.sort()).toEqual(['fused', 'plain']);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('refuses a form that does not exist before reading any file', async () => {
    const run = createPipeline({ ckpt: '/no/such/model.pt', attention: 'flash' });
    await expect(run).rejects.toThrow(UsageError);
    await expect(run).rejects.toThrow('--attention "flash" is not supported: must be one of fused, plain');
  });
});

describe('createPipeline failures', () => {
  const openFiles = () => fs.readdirSync('/proc/self/fd').length;

  it('closes the checkpoint when the --vae value is refused after loading it', async () => {
    const before = openFiles();
    for (let i = 0; i < 3; i++) {
      await expect(createPipeline({ ckpt: path.join(tiny, 'model.pt'), vae: '/no/such/vae', noCache: true })).rejects.toThrow('--vae /no/such/vae: no such file or folder');
    }
    expect(openFiles()).toBe(before);
  });
});
