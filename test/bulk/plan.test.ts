/** dit generate's plan: image seeds and labels against an independent Python implementation, shards, chunks, names. */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chunkRanges, imageFileName, imageLabel, imageSeed, shardRange } from '../../src/bulk/plan.js';
import { createImageGenerators, createTorchGenerator } from '../../src/diffusion/random.js';
import { fixture } from '../helpers/fixtures.js';

const ref = JSON.parse(fs.readFileSync(fixture('bulk', 'plan.json'), 'utf8')) as {
  seeds: string[];
  indexes: number[];
  image_seeds: string[][];
  random_labels_10: number[][];
  random_labels_1000: number[][];
  randn_image_seed_0_5: number[];
};

describe('imageSeed and imageLabel (scripts/fixtures/bulk_plan.py)', () => {
  it('give the Python reference seeds for every global seed, the 64-bit extremes and negatives included', () => {
    const got = ref.seeds.map((s) => ref.indexes.map((i) => imageSeed(BigInt(s), i).toString()));
    expect(got).toEqual(ref.image_seeds);
  });

  it('--labels random gives the reference classes for 10 and 1000 classes', () => {
    for (const [key, k] of [['random_labels_10', 10], ['random_labels_1000', 1000]] as const) {
      const got = ref.seeds.map((s) => Array.from({ length: 20 }, (_, i) => imageLabel({ kind: 'random', numClasses: k, seed: BigInt(s) }, i)));
      expect(got).toEqual(ref[key]);
    }
  });

  it("image 5 of seed 0 draws torch.manual_seed(imageSeed(0, 5))'s randn", () => {
    const got = Array.from(createTorchGenerator(imageSeed(0n, 5)).randn(20));
    got.forEach((v, i) => expect(v).toBeCloseTo(ref.randn_image_seed_0_5[i]!, 5));
  });

  it('no two of 100,000 images of a run share a seed, and random labels are near uniform', () => {
    const seeds = new Set(Array.from({ length: 100_000 }, (_, i) => imageSeed(7n, i)));
    expect(seeds.size).toBe(100_000);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[imageLabel({ kind: 'random', numClasses: 10, seed: 7n }, i)]++;
    // Binomial(100000, 0.1): sd ≈ 95; 5 sd.
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(475);
  });

  it('balanced labels cycle through the classes given', () => {
    const plan = { kind: 'balanced', classes: [3, 7, 9] } as const;
    expect(Array.from({ length: 7 }, (_, i) => imageLabel(plan, i))).toEqual([3, 7, 9, 3, 7, 9, 3]);
  });
});

describe('shards, chunks and file names', () => {
  it('the M shards of N cover 0..N−1 exactly once, in order, sizes differing by at most one', () => {
    for (const [n, m] of [[10, 3], [7, 7], [5, 8], [10_000, 64]] as const) {
      const ranges = Array.from({ length: m }, (_, k) => shardRange(n, k, m));
      expect(ranges[0]!.start).toBe(0);
      expect(ranges[m - 1]!.end).toBe(n);
      ranges.slice(1).forEach((r, k) => expect(r.start).toBe(ranges[k]!.end));
      const sizes = ranges.map((r) => r.end - r.start);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it('chunks cut a range into pieces of at most the size', () => {
    expect(chunkRanges({ start: 3, end: 10 }, 3)).toEqual([{ start: 3, end: 6 }, { start: 6, end: 9 }, { start: 9, end: 10 }]);
  });

  it('names have 6 digits, more when N − 1 has more', () => {
    expect(imageFileName(123, 50_000)).toBe('000123.png');
    expect(imageFileName(5, 1_000_001)).toBe('0000005.png');
    expect(imageFileName(999_999, 1_000_000)).toBe('999999.png');
  });
});

describe('createImageGenerators', () => {
  it('gives each image the draws of its own one-image generator, the doubled batch laid out [all first halves, all second halves]', () => {
    const numel = 20;
    const gen = createImageGenerators([5n, 9n, 11n], numel);
    const z = gen.randn(3 * numel);
    const step = gen.randn(2 * 3 * numel); // a CFG step: noise for the doubled batch
    [5n, 9n, 11n].forEach((s, b) => {
      const own = createTorchGenerator(s);
      expect(z.subarray(b * numel, (b + 1) * numel)).toEqual(own.randn(numel));
      const pair = own.randn(2 * numel);
      expect(step.subarray(b * numel, (b + 1) * numel)).toEqual(pair.subarray(0, numel));
      expect(step.subarray((3 + b) * numel, (4 + b) * numel)).toEqual(pair.subarray(numel));
    });
  });
});
