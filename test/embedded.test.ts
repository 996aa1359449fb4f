/**
 * The model the project ships: `dit sample` with no arguments produces a real grid, and guidance
 * does what it should. "Closer to their class" is measured with the classifier shipped next to
 * the model (trained on real Fashion-MNIST, its test accuracy in classifier.json): the mean
 * probability it gives each image's own label. A model that ignores its label scores ~0.1 (ten
 * classes); guidance should push the samples towards what the classifier recognises.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './helpers/run-cli.js';
import { decodePng } from '../src/image/png.js';
import { createPipeline, type Pipeline } from '../src/pipeline.js';
import { openEmbeddedClassifier } from '../src/model-files.js';
import type { ClassifierSession } from '../src/runtime/index.js';
import { scoreLogits } from '../src/sweep/metrics.js';
import { relativeError } from './helpers/compare.js';

let pipeline: Pipeline;
let classifier: ClassifierSession;
beforeAll(async () => {
  pipeline = await createPipeline({ noCache: true });
  classifier = await openEmbeddedClassifier();
});
afterAll(async () => {
  await pipeline?.dispose();
  await classifier?.release();
});

describe('the embedded Fashion-MNIST model', () => {
  it('`dit sample` with no arguments writes an 8-image grid, 4 per row, that is not degenerate', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-embedded-'));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const r = await runCli(['sample', '--quiet', '--num-sampling-steps', '10']);
      expect(r).toMatchObject({ code: 0, stdout: 'sample.png\n' });
    } finally {
      process.chdir(cwd);
    }
    const png = decodePng(fs.readFileSync(path.join(dir, 'sample.png')));
    // torchvision grid: 4 columns × 2 rows of 32×32 images with a 2-pixel border.
    expect([png.width, png.height]).toEqual([4 * 34 + 2, 2 * 34 + 2]);
    const tiles: number[][] = [];
    for (let k = 0; k < 8; k++) {
      const x0 = (k % 4) * 34 + 2;
      const y0 = Math.floor(k / 4) * 34 + 2;
      const tile: number[] = [];
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) tile.push(png.data[((y0 + y) * png.width + x0 + x) * 3]!);
      tiles.push(tile);
    }
    // A garment on a dark background has real contrast and bright pixels; a degenerate sampler
    // gives flat, all-black, all-white or NaN (black) tiles. Thin classes (sandals) may be faint
    // after few steps, so six of the eight tiles must clearly show something.
    const contrasty = tiles.filter((tile) => {
      const mean = tile.reduce((a, v) => a + v, 0) / tile.length;
      const sd = Math.sqrt(tile.reduce((a, v) => a + (v - mean) ** 2, 0) / tile.length);
      return sd > 20 && Math.max(...tile) > 120 && mean < 200;
    });
    expect(contrasty.length).toBeGreaterThanOrEqual(6);
    // Eight different classes give eight different pictures.
    expect(new Set(tiles.map((t) => t.join())).size).toBe(8);
  });

  it('CFG 10 gives images the classifier recognises as their class more confidently than CFG 1', async () => {
    const labels = Array.from({ length: 20 }, (_, i) => i % 10);
    const confidence = async (cfgScale: number) => {
      const r = await pipeline.generate({ classLabels: labels, cfgScale, numSamplingSteps: 20, sampler: 'dpm-solver++', seed: 1 });
      return scoreLogits(await classifier.classify(r.images!), 10, labels).meanConfidence;
    };
    const low = await confidence(1);
    const high = await confidence(10);
    expect(high).toBeGreaterThan(low);
    expect(high).toBeGreaterThan(0.5);
  });

  it('the shipped weights give the PyTorch forward and the PyTorch sampling loop (training/ reference)', async () => {
    const ref = path.resolve(__dirname, '../assets/fashion-mnist/reference');
    const { readNpy, loadDiTCheckpoint } = await import('../src/checkpoint/index.js');
    const { createDiTSession } = await import('../src/runtime/index.js');
    const ckpt = loadDiTCheckpoint(path.resolve(__dirname, '../assets/fashion-mnist'));
    const session = await createDiTSession(ckpt);
    ckpt.weights.close();
    try {
      const x = readNpy(path.join(ref, 'dit.x.npy'));
      const t = Array.from(readNpy(path.join(ref, 'dit.t.npy')).data, Number);
      const y = Array.from(readNpy(path.join(ref, 'dit.y.npy')).data, Number);
      const out = await session.run(x.data as Float32Array, t, y, x.shape[0]!);
      expect(relativeError(out, readNpy(path.join(ref, 'dit.out.npy')).data as Float32Array)).toBeLessThan(1e-5);
    } finally {
      await session.release();
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(ref, 'manifest.json'), 'utf8'));
    const s = manifest.dit.sample;
    const result = await pipeline.generate({ classLabels: s.labels, cfgScale: s.cfg, numSamplingSteps: s.steps, seed: s.seed, sampler: s.sampler, guidance: 'all', guidanceInterval: '0,999' }); // the reference guides every step; the embedded default does not
    expect(relativeError(result.latents.data, readNpy(path.join(ref, s.out)).data as Float32Array)).toBeLessThan(1e-4);
  });

  it('the classifier reproduces its PyTorch reference logits', async () => {
    const ref = path.resolve(__dirname, '../assets/fashion-mnist/reference');
    const { readNpy } = await import('../src/checkpoint/index.js');
    const x = readNpy(path.join(ref, 'classifier.x.npy'));
    const logits = readNpy(path.join(ref, 'classifier.logits.npy'));
    const got = await classifier.classify({ data: x.data as Float32Array, shape: x.shape as [number, number, number, number] });
    expect(relativeError(got, logits.data as Float32Array)).toBeLessThan(1e-5);
  });
});
