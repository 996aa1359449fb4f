import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTorchGenerator, torchSeedToUint32 } from '../../src/diffusion/random.js';
import { readNpyFloat32 } from './npy.js';
import { fixtureDir } from '../helpers/fixtures.js';

const rngDir = fixtureDir('rng');

interface RngCase {
  seed: number;
  shape: number[];
  file: string;
}
const manifest = JSON.parse(readFileSync(path.join(rngDir, 'manifest.json'), 'utf8')) as { cases: RngCase[] };

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('createTorchGenerator', () => {
  it.each(manifest.cases)('matches torch.randn$shape after manual_seed($seed), both draws', (c) => {
    const ref = readNpyFloat32(path.join(rngDir, c.file));
    const count = c.shape.reduce((a, b) => a * b, 1);
    expect(ref.shape).toEqual([2, ...c.shape]);
    const gen = createTorchGenerator(c.seed);
    const first = gen.randn(count);
    const second = gen.randn(count);
    expect(maxAbsDiff(first, ref.data.subarray(0, count))).toBeLessThan(1e-5);
    expect(maxAbsDiff(second, ref.data.subarray(count))).toBeLessThan(1e-5);
  });

  it('produces the reference mt19937 stream (std::mt19937 with seed 5489: 10000th output 4123659995)', () => {
    const gen = createTorchGenerator(5489);
    let v = 0;
    for (let i = 0; i < 10000; i++) v = gen.nextUint32();
    expect(v).toBe(4123659995);
  });

  it('manualSeed restarts the stream and forgets the cached Box–Muller value', () => {
    const gen = createTorchGenerator(0);
    const a = gen.randn(3); // leaves a cached second value behind
    gen.manualSeed(0);
    expect(Array.from(gen.randn(3))).toEqual(Array.from(a));
  });

  it('reads seeds like torch.manual_seed: low 32 bits of the uint64, negatives as two’s complement', () => {
    expect(torchSeedToUint32(123456789)).toBe(123456789);
    expect(torchSeedToUint32(2n ** 32n + 5n)).toBe(5);
    expect(torchSeedToUint32(2n ** 64n - 1n)).toBe(0xffffffff);
    expect(torchSeedToUint32(-1)).toBe(0xffffffff);
    expect(() => torchSeedToUint32(2n ** 64n)).toThrow(/out of range.*\[-2\^63, 2\^64 - 1\]/);
    expect(() => torchSeedToUint32(1.5)).toThrow(/seed 1.5 is not a safe integer/);
  });
});
