/**
 * A DiT whose MLP width is int(hidden × mlp_ratio) with a fractional product: hidden 96, mlp_ratio
 * 3.3 → 316 (the official constructor truncates; rounding would say 317). The checkpoint must load,
 * build and run at the width its weights have.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDiTCheckpoint, readNpy } from '../../src/checkpoint/index.js';
import { encodeModel } from '../../src/graph/index.js';
import { buildDiTGraph, type DiTConfig } from '../../src/models/dit.js';
import { ditMlpWidth } from '../../src/models/dit-config.js';
import { createDiTSession, createSession } from '../../src/runtime/index.js';
import { fillRandom, syntheticDiT, writeSafetensors } from '../helpers/checkpoint-writers.js';
import { relativeError } from '../helpers/compare.js';
import { fixtureDir } from '../helpers/fixtures.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-mlp-width-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Writes config.json (the constructor's arguments, as a training script saves them) and the weights. */
function writeCheckpoint(name: string, config: DiTConfig): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  writeSafetensors(path.join(dir, 'model.safetensors'), syntheticDiT(config));
  return dir;
}

async function forwardShape(config: DiTConfig, weights: Parameters<typeof buildDiTGraph>[1], batch: number): Promise<readonly number[]> {
  const s = await createSession(encodeModel(buildDiTGraph(config, weights)));
  try {
    const S = config.input_size;
    const out = await s.run({
      x: { type: 'float32', data: fillRandom(new Float32Array(batch * config.in_channels * S * S), 3), dims: [batch, config.in_channels, S, S] },
      t: { type: 'float32', data: Float32Array.from({ length: batch }, (_, i) => 100 * i), dims: [batch] },
      y: { type: 'int64', data: BigInt64Array.from({ length: batch }, (_, i) => BigInt(i)), dims: [batch] },
    });
    expect(out.out!.data.every(Number.isFinite)).toBe(true);
    return out.out!.dims;
  } finally {
    await s.release();
  }
}

describe('MLP width int(hidden × mlp_ratio) with a fractional product', () => {
  const config: DiTConfig = {
    input_size: 8,
    patch_size: 2,
    in_channels: 4,
    hidden_size: 96,
    depth: 2,
    num_heads: 4,
    mlp_ratio: 3.3,
    class_dropout_prob: 0.1,
    num_classes: 10,
    learn_sigma: true,
  };

  it('hidden 96, mlp_ratio 3.3 (fc1 316 rows): loads with the config.json, builds and runs a forward', async () => {
    const dir = writeCheckpoint('ratio-3.3', config);
    const ckpt = loadDiTCheckpoint(dir);
    try {
      expect(ckpt.weights.tensors.get('blocks.0.mlp.fc1.weight')!.shape).toEqual([316, 96]);
      expect(ckpt.weights.tensors.get('blocks.1.mlp.fc2.weight')!.shape).toEqual([96, 316]);
      expect(ckpt.config).toEqual(config);
      expect(await forwardShape(ckpt.config, ckpt.weights, 2)).toEqual([2, 8, 8, 8]);
      // The constructor's own config (not the loader's) builds at the same width.
      expect(await forwardShape({ ...config }, ckpt.weights, 1)).toEqual([1, 8, 8, 8]);
    } finally {
      ckpt.weights.close();
    }
  });

  it('hidden 56, mlp_ratio 1.09 (fc1 61 rows, 61/56 · 56 < 61 in floating point): loads without a stated ratio and runs', async () => {
    const c56: DiTConfig = { ...config, hidden_size: 56, num_heads: 2, mlp_ratio: 1.09 };
    const dir = writeCheckpoint('ratio-1.09', c56);
    // Only the heads are stated, so the ratio must be read back from the 61 rows.
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ num_heads: 2 }));
    const ckpt = loadDiTCheckpoint(dir);
    try {
      expect(ckpt.weights.tensors.get('blocks.0.mlp.fc1.weight')!.shape).toEqual([61, 56]);
      expect(Math.trunc(ckpt.config.hidden_size * ckpt.config.mlp_ratio)).toBe(61);
      expect(await forwardShape(ckpt.config, ckpt.weights, 2)).toEqual([2, 8, 8, 8]);
    } finally {
      ckpt.weights.close();
    }
  });

  it('a config whose int(hidden × mlp_ratio) is not the weights’ width is refused naming both', () => {
    const dir = writeCheckpoint('ratio-wrong', config);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, mlp_ratio: 3.4 }));
    expect(() => loadDiTCheckpoint(dir)).toThrow(/config\.json says mlp_ratio 3\.4 but the weights have 3\.29/);
  });

  it('the width is the official int(hidden_size * mlp_ratio): 316 for 96 × 3.3, 3072 for XL', () => {
    expect(ditMlpWidth({ hidden_size: 96, mlp_ratio: 3.3 })).toBe(316);
    expect(ditMlpWidth({ hidden_size: 1152, mlp_ratio: 4 })).toBe(4608);
    expect(ditMlpWidth({ hidden_size: 56, mlp_ratio: 1.09 })).toBe(61);
  });

  it('the graph builder refuses weights whose MLP width is not the config’s, naming both', () => {
    const tensors = new Map(syntheticDiT(config).map((t) => [t.name, { dtype: t.dtype, shape: t.shape, toFloat32: () => (typeof t.data === 'function' ? t.data() : t.data) as Float32Array }]));
    expect(() => buildDiTGraph({ ...config, mlp_ratio: 3.4 }, { tensors, close: () => {} })).toThrow(
      /checkpoint MLP width 316 \(rows of blocks\.0\.mlp\.fc1\.weight\) is not the config's int\(hidden_size 96 × mlp_ratio 3\.4\) = 326/,
    );
  });
});

describe('the official DiT with mlp_ratio 3.3 (test/fixtures/dit-mlp, computed by models.py)', () => {
  it('loads at the MLP width of its weights (316) and matches the official forward within 1e-5', async () => {
    const dir = fixtureDir('dit-mlp');
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
      mlp_hidden: number;
      forward: { t: number[]; y: number[] };
    };
    const ckpt = loadDiTCheckpoint(dir);
    expect(ckpt.config.mlp_ratio).toBe(3.3);
    expect(ditMlpWidth(ckpt.config)).toBe(manifest.mlp_hidden);
    const session = await createDiTSession(ckpt, {});
    ckpt.weights.close();
    try {
      const x = readNpy(path.join(dir, 'forward.x.npy'));
      const ref = readNpy(path.join(dir, 'forward.out.npy'));
      const out = await session.run(x.data as Float32Array, manifest.forward.t, manifest.forward.y, manifest.forward.t.length);
      expect(relativeError(out, ref.data as Float32Array)).toBeLessThan(1e-5);
    } finally {
      await session.release();
    }
  });
});
