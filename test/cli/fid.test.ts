/** `dit fid` end to end with the random-weight Inception of test/fixtures/inception. */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPng } from '../../src/image/png.js';
import { NPY_DESCR_BYTES, writeNpz, type NpyDescr } from '../../src/checkpoint/npy.js';
import { fixture, tempDir } from '../helpers/fixtures.js';
import { randomInceptionWeights } from '../helpers/inception-weights.js';
import { writeSafetensors } from '../helpers/checkpoint-writers.js';
import { runCli } from '../helpers/run-cli.js';

const manifest = JSON.parse(fs.readFileSync(fixture('inception', 'manifest.json'), 'utf8')) as { seed: number; fid_a_b: number };
let dir: string;
let weights: string;

/** One .npz array from its raw bytes. */
const npz = (name: string, descr: NpyDescr, bytes: Uint8Array, shape: number[]) => ({ name, descr, shape, chunks: () => [bytes] });

/** A folder holding copies of fixture PNGs. */
function pngFolder(name: string, images: readonly string[]): string {
  const d = path.join(dir, name);
  fs.mkdirSync(d);
  for (const im of images) fs.copyFileSync(fixture('inception', `${im}.png`), path.join(d, `${im}.png`));
  return d;
}

beforeAll(() => {
  dir = tempDir();
  weights = path.join(dir, 'inception.safetensors');
  // The fixture's weights without the 1008-class head, which FID does not read (it is drawn last).
  const entries = [...randomInceptionWeights(manifest.seed)]
    .filter(([name]) => !name.startsWith('fc.'))
    .map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, data: () => t.toFloat32() }));
  writeSafetensors(weights, entries);
}, 60_000);

describe('dit fid', () => {
  it("gives pytorch-fid's FID from PNG folders, an .npz of images and saved statistics alike", async () => {
    const a = pngFolder('a', ['a0', 'a1', 'a2', 'a3', 'a4']);
    const b = pngFolder('b', ['b0', 'b1', 'b2', 'b3', 'b4']);
    // b as sample_ddp.py's .npz: arr_0 uint8 (N, H, W, 3).
    const bNpz = path.join(dir, 'b.npz');
    const images = ['b0', 'b1', 'b2', 'b3', 'b4'].map((n) => readPng(path.join(b, `${n}.png`)).data);
    const arr = new Uint8Array(5 * 64 * 64 * 3);
    images.forEach((im, i) => arr.set(im, i * 64 * 64 * 3));
    writeNpz(bNpz, [npz('arr_0', '|u1', arr, [5, 64, 64, 3])]);
    const stats = path.join(dir, 'a-stats.npz');

    const first = await runCli(['fid', a, '--ref', bNpz, '--save-stats', stats, '--inception', weights, '--threads', '2', '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const r1 = JSON.parse(first.stdout) as { fid: number; images: number; refImages: number };
    expect(r1.images).toBe(5);
    expect(r1.refImages).toBe(5);
    expect(Math.abs(r1.fid - manifest.fid_a_b)).toBeLessThan(1e-3);

    const second = await runCli(['fid', stats, '--ref', b, '--inception', weights, '--threads', '2', '--batch-size', '2']);
    expect(second.code).toBe(0);
    const m = /^FID (\d+\.\d{4}) {2}\(statistics .*a-stats\.npz against 5 images of .*\/b; [\d.]+ s\)\n$/.exec(second.stdout);
    expect(m, second.stdout).not.toBeNull();
    expect(Number(m![1])).toBeCloseTo(r1.fid, 4);
  }, 120_000);

  it('refuses a bad --ref, an empty folder and missing weights with one line, exit 2, before any work', async () => {
    const a = pngFolder('a2', ['a0', 'a1']);
    const bad = (p: string, arrays: Parameters<typeof writeNpz>[1]) => (writeNpz(path.join(dir, p), arrays), path.join(dir, p));
    const zeros = (descr: NpyDescr, shape: number[]) => npz(shape.length === 1 ? 'mu' : 'sigma', descr, new Uint8Array(shape.reduce((x, y) => x * y, 1) * NPY_DESCR_BYTES[descr]), shape);
    const cases: Array<[string[], RegExp]> = [
      [['--ref', bad('mu64.npz', [zeros('<f8', [64]), zeros('<f8', [64, 64])])],
        /^dit: --ref .*mu64\.npz: mu is <f8 \(64\) and sigma <f8 \(64, 64\); expected float mu \(2048\) and sigma \(2048, 2048\)/],
      [['--ref', bad('float.npz', [npz('arr_0', '<f4', new Uint8Array(2 * 4 * 4 * 3 * 4), [2, 4, 4, 3])])],
        /^dit: --ref .*float\.npz: arr_0 is <f4 of shape \(2, 4, 4, 3\); expected uint8 images \(N, H, W, 3\)/],
      [['--ref', bad('gray.npz', [npz('arr_0', '|u1', new Uint8Array(2 * 4 * 4), [2, 4, 4, 1])])], /arr_0 is \|u1 of shape \(2, 4, 4, 1\)/],
      [['--ref', bad('other.npz', [npz('x', '<f4', new Uint8Array(12), [3])])], /^dit: --ref .*other\.npz holds x; expected arr_0/],
      [['--ref', fs.mkdtempSync(path.join(dir, 'empty-'))], /^dit: --ref .*empty-\w+: the folder holds no \.png files/],
      [['--ref', path.join(dir, 'nope.npz')], /^dit: --ref .*nope\.npz: no such file or folder/],
      [['--ref', a, '--cache-dir', fs.mkdtempSync(path.join(dir, 'cache-'))], /^dit: the FID Inception weights are not in the cache \(.*pt_inception-2015-12-05-6726825d\.pth\); run `dit download inception`/],
      [[], /^dit: dit fid needs --ref REF .* or --save-stats OUT\.npz/],
      [['--ref', a, '--batch-size', '0'], /--batch-size/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['fid', a, ...args]);
      expect({ code: r.code, lines: r.stderr.trim().split('\n').length, stdout: r.stdout }, r.stderr).toEqual({ code: 2, lines: 1, stdout: '' });
      expect(r.stderr).toMatch(message);
    }
  });
});
