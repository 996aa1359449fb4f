import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { readPng } from '../../src/image/png.js';
import { FeatureStatistics, frechetDistance } from '../../src/metrics/frechet.js';
import { INCEPTION_FEATURES, inceptionStateDictKeys, inceptionWeightsProblem } from '../../src/models/inception.js';
import { createInceptionFeatures } from '../../src/runtime/inception-session.js';
import { readNpyFloat32 } from '../diffusion/npy.js';
import { fixture } from '../helpers/fixtures.js';
import { randomInceptionWeights } from '../helpers/inception-weights.js';

const manifest = JSON.parse(readFileSync(fixture('inception', 'manifest.json'), 'utf8')) as { seed: number; rows: string[]; fid_a_b: number };
const keys = JSON.parse(readFileSync(fixture('inception', 'keys.json'), 'utf8')) as Array<[string, number[]]>;
const reference = readNpyFloat32(fixture('inception', 'features.npy'));

function batchOf(names: readonly string[]) {
  const images = names.map((n) => readPng(fixture('inception', `${n}.png`)));
  const { width, height } = images[0]!;
  const data = new Uint8Array(images.length * width * height * 3);
  images.forEach((im, i) => data.set(im.data, i * width * height * 3));
  return { data, count: images.length, height, width };
}

describe('FID Inception (pytorch-fid b9c1811, random weights)', () => {
  const net = createInceptionFeatures(randomInceptionWeights(manifest.seed), { threads: 2 });
  afterAll(() => net.release());
  const ours = new Map<string, Float32Array>();

  it("lists the state dict's keys and shapes in PyTorch's order", () => {
    expect(inceptionStateDictKeys().map((k) => [k.name, [...k.shape]])).toEqual(keys);
    expect(inceptionWeightsProblem(new Map(keys.map(([k, s]) => [k, s])))).toBeUndefined();
  });

  it('gives the features of get_activations to 1e-4 (max |Δ|), at 64×64 and at 37×50', async () => {
    const rows = manifest.rows;
    const sixtyFour = await net.features(batchOf(rows.slice(0, 10)));
    const odd = await net.features(batchOf(['odd']));
    const all = new Float32Array(rows.length * INCEPTION_FEATURES);
    all.set(sixtyFour, 0);
    all.set(odd, 10 * INCEPTION_FEATURES);
    expect(reference.shape).toEqual([rows.length, INCEPTION_FEATURES]);
    let maxAbs = 0, maxRef = 0;
    for (let i = 0; i < all.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(all[i]! - reference.data[i]!));
      maxRef = Math.max(maxRef, Math.abs(reference.data[i]!));
    }
    expect(maxRef).toBeGreaterThan(0.5); // the reference is not all zeros
    expect(maxAbs).toBeLessThan(1e-4);
    rows.forEach((r, i) => ours.set(r, all.subarray(i * INCEPTION_FEATURES, (i + 1) * INCEPTION_FEATURES)));
  });

  it("gives pytorch-fid's FID of set a against set b (5 images each) to 1e-3", () => {
    const stats = (prefix: string) => {
      const s = new FeatureStatistics(INCEPTION_FEATURES);
      for (let i = 0; i < 5; i++) s.add(ours.get(`${prefix}${i}`)!);
      return s.finish();
    };
    const fd = frechetDistance(stats('a'), stats('b'));
    expect(Math.abs(fd - manifest.fid_a_b)).toBeLessThan(1e-3);
  });
});
