/**
 * SiT and REPA through the one main path (createPipeline → generate, and `dit sample`): the family
 * from config.json, --family or REPA's keys, each family's defaults, and the official latents of
 * test/fixtures/sit-tiny and repa-tiny from the seed alone; and the one-line errors.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPipeline, type Pipeline } from '../src/pipeline.js';
import { readNpy } from '../src/checkpoint/index.js';
import { resolveLoadOptions } from '../src/options.js';
import { UsageError } from '../src/errors.js';
import { relativeError } from './helpers/compare.js';
import { fixtureDir } from './helpers/fixtures.js';
import { runCli } from './helpers/run-cli.js';

const sitDir = fixtureDir('sit-tiny');
const repaDir = fixtureDir('repa-tiny');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dit-families-'));
/** The kept images of the last state of a SiT fixture trajectory [steps, N, C, H, W]. */
function lastState(file: string): Float32Array {
  const a = readNpy(file);
  const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
  return (a.data as Float32Array).subarray(a.data.length - per);
}

const opened: Pipeline[] = [];
afterAll(async () => {
  for (const p of opened) await p.dispose();
});
async function open(opts: Parameters<typeof createPipeline>[0]): Promise<Pipeline> {
  const p = await createPipeline({ vae: 'none', noCache: true, ...opts });
  opened.push(p);
  return p;
}

describe('SiT', () => {
  it("is read from config.json's family; defaults are sample.py's (ODE dopri5, 250 steps, cfg 4, guidance on channels 0..2)", async () => {
    const p = await open({ ckpt: sitDir });
    expect(p.info.family).toBe('sit');
    expect(p.resolve({})).toMatchObject({ sampler: 'sit-ode-dopri5', numSamplingSteps: 250, cfgScale: 4, guidance: 'dit', guidanceInterval: undefined });
  });

  it.each([
    ['sit-ode-euler', 'ode-euler', 8],
    ['sit-ode-dopri5', 'ode-dopri5', 5],
    ['sit-sde-euler', 'sde-euler', 10],
  ])('--sampler %s gives the official latents of %s from the seed alone', async (sampler, name, steps) => {
    const p = await open({ ckpt: sitDir });
    const manifest = JSON.parse(fs.readFileSync(path.join(sitDir, 'manifest.json'), 'utf8')) as { cases: Array<{ name: string; labels: number[]; cfg: number; seed: number; trajectory: string }> };
    const c = manifest.cases.find((x) => x.name === name)!;
    const r = await p.generate({ classLabels: c.labels, cfgScale: c.cfg, seed: c.seed, numSamplingSteps: steps, sampler });
    expect(relativeError(r.latents.data, lastState(path.join(sitDir, c.trajectory)))).toBeLessThan(1e-4);
  });

  it('refuses a DiT sampler and a guidance interval, in one line naming what to pass', async () => {
    const p = await open({ ckpt: sitDir });
    expect(() => p.resolve({ sampler: 'ddpm' })).toThrow(
      /^--sampler ddpm is a DiT sampler, and this is a SiT model; pass --sampler sit-ode-dopri5\|sit-ode-euler\|sit-ode-heun\|sit-sde-euler\|sit-sde-heun or leave --sampler out \(default sit-ode-dopri5\)$/,
    );
    expect(() => p.resolve({ guidanceInterval: '0,500' })).toThrow(UsageError);
  });
});

describe('REPA', () => {
  it("is recognised by its projectors; defaults are the README evaluation's (SDE, 250 steps, cfg 1.8 for t ≤ 0.7, all channels)", async () => {
    const p = await open({ ckpt: path.join(repaDir, 'model.safetensors'), config: path.join(repaDir, 'config.json') });
    expect(p.info.family).toBe('repa');
    expect(p.resolve({})).toMatchObject({ sampler: 'repa-sde', numSamplingSteps: 250, cfgScale: 1.8, guidance: 'all', guidanceInterval: [0, 0.7] });
  });

  it('its default sampler and guidance interval give the official latents from the seed alone', async () => {
    const p = await open({ ckpt: repaDir });
    const r = await p.generate({ classLabels: [3, 707], seed: 0, numSamplingSteps: 12 });
    expect(relativeError(r.latents.data, readNpy(path.join(repaDir, 'sde.npy')).data as Float32Array)).toBeLessThan(1e-4);
  });

  it('refuses a DiT sampler', async () => {
    const p = await open({ ckpt: repaDir });
    expect(() => p.resolve({ sampler: 'ddim' })).toThrow(
      '--sampler ddim is a DiT sampler, and this is a REPA model; pass --sampler repa-sde|repa-ode-euler|repa-ode-heun or leave --sampler out (default repa-sde)',
    );
  });
});

describe('families in the options and the loader', () => {
  it('--model names every family and fixes the family; a contradicting --family is refused', () => {
    expect(resolveLoadOptions({ model: 'SiT-XL/2' })).toMatchObject({ model: 'DiT-XL/2', family: 'sit', modelName: 'SiT-XL/2' });
    expect(resolveLoadOptions({ model: 'repa-sit-b-4' })).toMatchObject({ model: 'DiT-B/4', family: 'repa', modelName: 'REPA-SiT-B/4' });
    expect(resolveLoadOptions({ model: 'DiT-S/8' })).toMatchObject({ family: 'dit' });
    expect(() => resolveLoadOptions({ model: 'SiT-XL/2', family: 'dit' })).toThrow('--family dit contradicts --model SiT-XL/2, a SiT model; pass --model DiT-XL/2 or leave --family out');
    expect(() => resolveLoadOptions({ family: 'edm' })).toThrow('--family "edm" is not supported: must be one of dit, sit, repa');
  });

  it('a REPA checkpoint asked to run as SiT is refused', async () => {
    await expect(createPipeline({ ckpt: repaDir, family: 'sit', vae: 'none', noCache: true })).rejects.toThrow(
      /repa-tiny.*is a REPA checkpoint \(its projectors\.\* keys\), not SiT; pass --family repa \(or --model REPA-SiT-…\) or leave --family out$/,
    );
  });

  it('a checkpoint named like SiT without a family is refused; --family sit or dit decides', async () => {
    const dir = tmp();
    const file = path.join(dir, 'SiT-tiny.safetensors');
    fs.copyFileSync(path.join(sitDir, 'model.safetensors'), file);
    const config = JSON.parse(fs.readFileSync(path.join(sitDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    delete config.family;
    fs.writeFileSync(path.join(dir, 'args.json'), JSON.stringify(config));
    const load = { ckpt: file, config: path.join(dir, 'args.json'), vae: 'none', noCache: true };
    await expect(createPipeline(load)).rejects.toThrow(
      `${file} looks like a SiT checkpoint (its name), and SiT's weights cannot be told from DiT's; pass --family sit (or --family dit to run it as DiT)`,
    );
    const sit = await open({ ...load, family: 'sit' });
    expect(sit.info.family).toBe('sit');
    const dit = await open({ ...load, family: 'dit' });
    expect(dit.info).toMatchObject({ family: 'dit' });
    expect(dit.resolve({}).sampler).toBe('ddpm');
  });

  it('--model SiT-XL/2 with an empty cache names the download', async () => {
    const cacheDir = tmp();
    await expect(createPipeline({ model: 'SiT-XL/2', cacheDir })).rejects.toThrow(
      `the official SiT-XL/2 256×256 weights are not in the cache (${path.join(cacheDir, 'models', 'SiT-XL-2-256x256.pt')}); run \`dit download SiT-XL-2-256\` or pass --ckpt`,
    );
    await expect(createPipeline({ model: 'REPA-SiT-XL/2', cacheDir, imageSize: 512 })).rejects.toThrow('--image-size 512: the released REPA-SiT-XL/2 weights are 256; pass --ckpt for other sizes');
  });
});

describe('dit sample and dit inspect', () => {
  it('dit sample --family sit runs end to end and writes the official latents', async () => {
    const out = path.join(tmp(), 'out.npy');
    const dir = tmp();
    const config = JSON.parse(fs.readFileSync(path.join(sitDir, 'config.json'), 'utf8')) as Record<string, unknown>;
    delete config.family;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
    fs.copyFileSync(path.join(sitDir, 'model.safetensors'), path.join(dir, 'model.safetensors'));
    const r = await runCli([
      'sample', '--ckpt', dir, '--family', 'sit', '--sampler', 'sit-ode-heun', '--class-labels', '3,7', '--cfg-scale', '4',
      '--num-sampling-steps', '6', '--seed', '0', '--vae', 'none', '--save-latents', out, '--quiet', '--no-cache',
    ]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(relativeError(readNpy(out).data as Float32Array, lastState(path.join(sitDir, 'ode-heun.npy')))).toBeLessThan(1e-4);
  });

  it('dit sample refuses a DiT sampler for REPA with exit 2 and one line', async () => {
    const r = await runCli(['sample', '--ckpt', repaDir, '--sampler', 'ddpm', '--vae', 'none', '--quiet', '--no-cache']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('dit: --sampler ddpm is a DiT sampler, and this is a REPA model; pass --sampler repa-sde|repa-ode-euler|repa-ode-heun or leave --sampler out (default repa-sde)\n');
  });

  it('dit inspect names the family, or says it is ambiguous', async () => {
    const repa = await runCli(['inspect', repaDir]);
    expect(repa.stdout).toMatch(/^family: +REPA \(from its projectors\.\* keys\)$/m);
    expect(repa.stdout).toMatch(/^warning: +ignoring REPA's 6 projectors\.\* tensors \(used in training only\)$/m);
    const sit = await runCli(['inspect', sitDir]);
    expect(sit.stdout).toMatch(/^family: +SiT \(from config\.json\)$/m);
    const dit = await runCli(['inspect', fixtureDir('dit-tiny')]);
    expect(dit.stdout).toMatch(/^family: +ambiguous: DiT or SiT/m);
  });
});
