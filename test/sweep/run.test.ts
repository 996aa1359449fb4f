import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { planSweep } from '../../src/sweep/plan.js';
import { runSweep } from '../../src/sweep/run.js';
import { resolveGenerateOptions, type ModelDefaults, type UserGenerateOptions } from '../../src/options.js';
import { makeGrid, splitImages } from '../../src/image/grid.js';
import { encodePng, decodePng } from '../../src/image/png.js';
import type { GenerateResult, Pipeline } from '../../src/pipeline.js';
import { FASHION_MNIST_CLASSES } from '../../src/classes.js';
import { canMount, smallDisk, unmountAll } from '../helpers/disk.js';

afterAll(unmountAll);

const defaults: ModelDefaults = {
  numClasses: 10,
  hasNullClass: true,
  classTable: FASHION_MNIST_CLASSES,
  classTableName: 'Fashion-MNIST',
  inChannels: 1,
  labels: [0, 1],
  cfgScale: 4,
  numSamplingSteps: 10,
  sampler: 'ddpm',
  samplesPerRow: 2,
};

/** A stand-in pipeline: image k of a cell is the constant (cfg − 5) / 10 + k / 10, 4×4 grey. */
function fakePipeline(failOnCall?: number): Pipeline & { calls: UserGenerateOptions[] } {
  const calls: UserGenerateOptions[] = [];
  return {
    calls,
    load: {} as Pipeline['load'],
    info: { description: 'fake model', vae: undefined, makesImages: true, config: { in_channels: 1 } } as unknown as Pipeline['info'],
    resolve: (o) => resolveGenerateOptions(o, defaults),
    async generate(o, hooks) {
      calls.push(o ?? {});
      if (calls.length === failOnCall) throw new Error('interrupted');
      const options = resolveGenerateOptions(o ?? {}, defaults);
      const n = options.labels.length;
      const data = new Float32Array(n * 16);
      for (let k = 0; k < n; k++) data.fill((options.cfgScale - 5) / 10 + k / 10, k * 16, (k + 1) * 16);
      for (let i = 0; i < options.numSamplingSteps; i++) hooks?.onStep?.({ i, n: options.numSamplingSteps, t: 0, x: data, x0: data, shape: [n, 1, 4, 4] });
      const images = { data, shape: [n, 1, 4, 4] as const };
      const grid = makeGrid(images, { samplesPerRow: options.samplesPerRow });
      return {
        options,
        latents: { data, shape: [n, 1, 4, 4] },
        images,
        imagesRgb: splitImages(images),
        grid,
        png: encodePng(grid),
        timings: { sampleSeconds: options.numSamplingSteps / 100, decodeSeconds: 0, steps: options.numSamplingSteps },
      } satisfies GenerateResult;
    },
    async dispose() {},
  };
}

describe('runSweep', () => {
  it('resumes an interrupted sweep from the cells already written, and refuses other flags in the same folder', async () => {
    const outDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dit-sweep-')), 'out');
    const plan = planSweep({ cfgScale: '1,5', numSamplingSteps: '2,3' }, ['--cfg-scale', '--num-sampling-steps'], 'fake model');
    const first = fakePipeline(3);
    await expect(runSweep({ plan, pipeline: first, outDir, title: 't' })).rejects.toThrow('interrupted');
    expect(fs.readdirSync(path.join(outDir, 'cells')).sort()).toEqual(['r0-c0.json', 'r0-c0.png', 'r0-c1.json', 'r0-c1.png']);

    const second = fakePipeline();
    const progress: string[] = [];
    const result = await runSweep({
      plan,
      pipeline: second,
      outDir,
      title: 't',
      onProgress: (p) => progress.push(`${p.cell}/${p.cells}:${p.step}/${p.steps}`),
    });
    expect(second.calls).toEqual([
      { cfgScale: '5', numSamplingSteps: '2' },
      { cfgScale: '5', numSamplingSteps: '3' },
    ]);
    expect(result.resumed).toBe(2);
    expect(progress).toEqual(['1/4:0/2', '2/4:0/3', '3/4:1/2', '3/4:2/2', '4/4:1/3', '4/4:2/3', '4/4:3/3']);
    const report = JSON.parse(fs.readFileSync(result.files.json, 'utf8'));
    expect(report.cells.map((c: { id: string }) => c.id)).toEqual(['r0-c0', 'r0-c1', 'r1-c0', 'r1-c1']);
    // cfg 1 → images −0.4 and −0.3: RMS distance 0.1; sharpness of constant images is 0.
    expect(report.cells[0].metrics.diversity).toBeCloseTo(0.1, 6);
    expect(report.cells[0].metrics.sharpness).toBe(0);
    expect(report.cells[3].seconds).toEqual({ sample: 0.03, decode: 0, perStep: 0.01 });
    const md = fs.readFileSync(result.files.markdown, 'utf8');
    expect(md).toContain('| cfg-scale | num-sampling-steps | sample s | s/step | decode s | diversity | sharpness |');
    expect(md).toContain('| 5 | 3 | 0.03 | 0.0100 | 0.00 | 0.1000 | 0.00000 |');
    const sheet = decodePng(fs.readFileSync(result.files.sheet));
    expect(sheet.width).toBeGreaterThan(2 * 10);

    const other = planSweep({ cfgScale: '1,7' }, [], 'fake model');
    await expect(runSweep({ plan: other, pipeline: fakePipeline(), outDir, title: 't' })).rejects.toThrow(
      `--out ${outDir} holds a different sweep (other flags or model)`,
    );
  });

  it('validates every cell before running any', async () => {
    const outDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dit-sweep-')), 'out');
    const plan = planSweep({ numSamplingSteps: '10,2000' }, [], 'fake model');
    const p = fakePipeline();
    await expect(runSweep({ plan, pipeline: p, outDir, title: 't' })).rejects.toThrow('--num-sampling-steps "2000" is out of range');
    expect(p.calls).toEqual([]);
    expect(fs.existsSync(outDir)).toBe(false);
  });

  it('resumes cells whose metrics are NaN (one image: no pairwise diversity), saved as null in their JSON', async () => {
    const outDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dit-sweep-')), 'out');
    const plan = planSweep({ cfgScale: '1,5', classLabels: '3' }, ['--cfg-scale'], 'fake model');
    await expect(runSweep({ plan, pipeline: fakePipeline(2), outDir, title: 't' })).rejects.toThrow('interrupted');
    expect(JSON.parse(fs.readFileSync(path.join(outDir, 'cells', 'r0-c0.json'), 'utf8')).metrics.diversity).toBeNull();

    const result = await runSweep({ plan, pipeline: fakePipeline(), outDir, title: 't' });
    expect(result.resumed).toBe(1);
    expect(result.cells.map((c) => c.metrics.diversity)).toEqual([NaN, NaN]);
    expect(fs.readFileSync(result.files.markdown, 'utf8')).toContain('| 1 | 0.10 | 0.0100 | 0.00 | – | 0.00000 |');
  });

  it.skipIf(!canMount)('a sweep that cannot start on a full disk leaves a folder a rerun accepts (needs root for a tmpfs)', async () => {
    const disk = smallDisk(64)!;
    const filler = path.join(disk, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(64 * 1024));
    const outDir = path.join(disk, 'out');
    const plan = planSweep({ cfgScale: '1,5' }, ['--cfg-scale'], 'fake model');
    await expect(runSweep({ plan, pipeline: fakePipeline(), outDir, title: 't' })).rejects.toThrow(/^cannot write .+: the disk is full \(ENOSPC\)$/);
    fs.rmSync(filler);
    const result = await runSweep({ plan, pipeline: fakePipeline(), outDir, title: 't' });
    expect(result.cells).toHaveLength(2);
  });
});
