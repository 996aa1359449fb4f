import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectDiTCheckpoint, loadDiTCheckpoint, openStateDict, type DiTCheckpoint } from '../../src/checkpoint/index.js';
import { ditConfigFor, type DiTConfig } from '../../src/models/dit-config.js';
import { ditParameterShapes } from '../../src/models/dit-shapes.js';
import {
  float32ToHalfBits,
  syntheticDiT,
  toSplitQkvLayout,
  writeDiffusersFolder,
  writeSafetensors,
  writeSafetensorsOf,
  writeSyntheticTorch,
  writeTorchStateDict,
  type NamedTensor,
  type SplitQkvNaming,
} from '../helpers/checkpoint-writers.js';
import { ditTiny, tempDir } from '../helpers/fixtures.js';

const tmp = tempDir();
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const fixtureConfig = JSON.parse(fs.readFileSync(ditTiny('config.json'), 'utf-8')) as DiTConfig;
const reference: NamedTensor[] = (() => {
  const sd = openStateDict(ditTiny('model.safetensors'));
  const out = [...sd.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.toFloat32() }));
  sd.close();
  return out;
})();

/** Bit-exact comparison, fast (vitest's deep equality walks arrays element by element). */
function expectSameBits(got: Float32Array, want: Float32Array, name: string): void {
  const same = Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength));
  if (!same) expect(got, name).toEqual(want);
  expect(same, name).toBe(true);
}

function expectReferenceWeights(ckpt: DiTCheckpoint): void {
  expect([...ckpt.weights.tensors.keys()]).toEqual(reference.map((t) => t.name));
  for (const r of reference) {
    const t = ckpt.weights.tensors.get(r.name)!;
    expect(t.shape, r.name).toEqual(r.shape);
    expectSameBits(t.toFloat32(), r.data, r.name);
  }
}

describe('loadDiTCheckpoint on the fixture files', () => {
  for (const [file, layout] of [
    ['model.pt', 'official'],
    ['model.safetensors', 'official'],
    ['train-checkpoint.pt', 'train-checkpoint'],
    ['ddp.pt', 'ddp'],
    ['fp16.pt', 'official'],
  ] as const) {
    it(`${file}: layout ${layout}, the config of config.json, the same canonical tensors`, () => {
      const ckpt = loadDiTCheckpoint(ditTiny(file));
      expect(ckpt.layout).toBe(layout);
      expect(ckpt.config).toEqual(fixtureConfig);
      expect(ckpt.parameterCount).toBe(183200);
      expect(ckpt.imageSize).toBe(64);
      expect(ckpt.variant).toBeUndefined();
      if (file === 'fp16.pt') {
        expect(ckpt.dtypes).toEqual(['F16']);
        for (const r of reference) {
          const got = ckpt.weights.tensors.get(r.name)!.toFloat32();
          let worst = 0;
          for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - r.data[i]!) - Math.abs(r.data[i]!) * 2 ** -11);
          expect(worst, r.name).toBeLessThanOrEqual(2 ** -25); // half rounding: relative 2^-11, absolute 2^-25 for subnormals
        }
      } else {
        expect(ckpt.dtypes).toEqual(['F32']);
        expectReferenceWeights(ckpt);
      }
      ckpt.weights.close();
    });
  }

  it('the parameter count formula gives the paper-era DiT-XL/2 figure (train.py prints 675,129,632)', () => {
    let n = 0;
    for (const s of ditParameterShapes(ditConfigFor('DiT-XL/2'))) n += s[1].reduce((a, b) => a * b, 1);
    expect(n).toBe(675_129_632);
  });
});

describe('other layouts, written from the fixture weights', () => {
  it('a diffusers pipeline folder: qkv re-fused, embedders from block 0, pos_embed recomputed bit-exactly, id2label', () => {
    const dir = path.join(tmp, 'diffusers');
    const labels = Array.from({ length: 10 }, (_, i) => `class ${i}`);
    writeDiffusersFolder(dir, reference, fixtureConfig, labels);
    const ckpt = loadDiTCheckpoint(dir);
    expect(ckpt.layout).toBe('diffusers');
    expect(ckpt.config).toEqual(fixtureConfig);
    expect(ckpt.classLabels).toEqual(labels);
    expectReferenceWeights(ckpt);
    ckpt.weights.close();
    // The weights file alone, with the transformer config beside it.
    const file = loadDiTCheckpoint(path.join(dir, 'transformer', 'diffusion_pytorch_model.safetensors'));
    expect(file.config).toEqual(fixtureConfig);
    file.weights.close();
  });

  for (const naming of ['to_q', 'q', 'q_proj', 'in_proj'] as SplitQkvNaming[]) {
    it(`split-qkv fork naming "${naming}"`, () => {
      const dir = path.join(tmp, `split-${naming}`);
      fs.mkdirSync(dir);
      fs.copyFileSync(ditTiny('config.json'), path.join(dir, 'config.json'));
      writeTorchStateDict(path.join(dir, 'model.pt'), toSplitQkvLayout(reference, naming));
      const ckpt = loadDiTCheckpoint(path.join(dir, 'model.pt'));
      expect(ckpt.layout).toBe('split-qkv');
      expect(ckpt.config).toEqual(fixtureConfig);
      expectReferenceWeights(ckpt);
      ckpt.weights.close();
    });
  }
});

describe('validation messages', () => {
  it('without a config.json the heads are unknown and the message says how to give them', () => {
    const dir = path.join(tmp, 'noconfig');
    fs.mkdirSync(dir);
    fs.copyFileSync(ditTiny('model.safetensors'), path.join(dir, 'model.safetensors'));
    expect(() => loadDiTCheckpoint(path.join(dir, 'model.safetensors'))).toThrow(/attention heads .*hidden 64, depth 2, patch 2 is no named variant.*"num_heads".*--config/);
    const ckpt = loadDiTCheckpoint(path.join(dir, 'model.safetensors'), { config: ditTiny('config.json') });
    expect(ckpt.config.num_heads).toBe(4);
    ckpt.weights.close();
  });

  it('a wrong --image-size names what the file is and the flag to pass', () => {
    expect(() => loadDiTCheckpoint(ditTiny('model.pt'), { imageSize: 256 })).toThrow(
      /does not fit the requested model 256×256 with 10 classes:\n\s+shape mismatches: pos_embed: file \[1, 16, 64\], expected \[1, 256, 64\]\n\s+this is a DiT \(depth 2, hidden 64, patch 2\) 64×64 checkpoint \(input_size 8, 10 classes \+ null class\); pass --image-size 64/,
    );
    expect(() => loadDiTCheckpoint(ditTiny('model.pt'), { numClasses: 1000 })).toThrow(/pass --num-classes 10/);
  });

  it('a missing tensor and a config that contradicts the weights are listed', () => {
    const dir = path.join(tmp, 'broken');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...fixtureConfig, depth: 3 }));
    writeSafetensorsOf(path.join(dir, 'model.safetensors'), reference.filter((t) => t.name !== 'blocks.1.mlp.fc2.bias'));
    const info = inspectDiTCheckpoint(path.join(dir, 'model.safetensors'));
    expect(info.problems).toEqual([`${path.join(dir, 'config.json')} says depth 3 but the weights have 2`, 'the file is not a complete DiT: missing keys: blocks.1.mlp.fc2.bias']);
    info.weights.close();
  });

  it('a file that is no DiT at all says so', () => {
    const f = path.join(tmp, 'other.safetensors');
    writeSafetensors(f, [{ name: 'encoder.conv_in.weight', dtype: 'F32', shape: [2], data: new Float32Array(2) }]);
    expect(() => loadDiTCheckpoint(f)).toThrow(/not a DiT checkpoint; its keys start with: encoder.conv_in.weight/);
  });
});

describe('synthetic named-variant checkpoints (random weights, both formats)', () => {
  const s2 = ditConfigFor('DiT-S/2');
  const tensors = syntheticDiT(s2, 'F16', 11);
  const st = path.join(tmp, 'DiT-S-2.safetensors');
  const pt = path.join(tmp, 'DiT-S-2.pt');
  writeSafetensors(st, tensors);
  writeSyntheticTorch(pt, tensors);

  for (const [file, format] of [
    [st, 'safetensors'],
    [pt, 'pytorch-zip'],
  ] as const) {
    it(`DiT-S/2 256 as ${format}: variant, heads and config come from the shapes alone`, () => {
      const info = inspectDiTCheckpoint(file);
      expect(info.problems).toEqual([]);
      expect(info.format).toBe(format);
      expect(info.variant).toBe('DiT-S/2');
      expect(info.config).toEqual(s2);
      expect(info.dtypes).toEqual(['F16']);
      expect(info.description).toBe('DiT-S/2 256×256 checkpoint (input_size 32, 1000 classes + null class)');
      // The last tensor read back equals what the writer generated.
      const last = tensors[tensors.length - 1]!;
      const want = new Uint16Array((last.data as () => Uint16Array)().buffer);
      expect(float32ToHalfBits(info.weights.tensors.get(last.name)!.toFloat32())).toEqual(want);
      info.weights.close();
      expect(() => loadDiTCheckpoint(file, { model: 'DiT-XL/2' })).toThrow(
        /does not fit DiT-XL\/2 256×256 with 1000 classes:\n\s+missing keys: blocks\.\{12\.\.27\}\.attn\.qkv\.weight,[^\n]*\n\s+shape mismatches: pos_embed: file \[1, 256, 384\], expected \[1, 256, 1152\];[^\n]*blocks\.\{0\.\.11\}\.attn\.qkv\.weight: file \[1152, 384\], expected \[3456, 1152\][^\n]*\n\s+this is a DiT-S\/2 256×256 checkpoint .*; pass --model DiT-S\/2/,
      );
    });
  }

  it('a 512×512 checkpoint asked for at 256 says "pass --image-size 512"', () => {
    const f = path.join(tmp, 'DiT-S-8-512.safetensors');
    writeSafetensors(f, syntheticDiT(ditConfigFor('DiT-S/8', { input_size: 64 }), 'F16'));
    expect(() => loadDiTCheckpoint(f, { model: 'DiT-S/8', imageSize: 256 })).toThrow(/this is a DiT-S\/8 512×512 checkpoint \(input_size 64, 1000 classes \+ null class\); pass --image-size 512$/);
    const ok = loadDiTCheckpoint(f, { model: 'DiT-S/8', imageSize: 512 });
    expect(ok.config).toEqual(ditConfigFor('DiT-S/8', { input_size: 64 }));
    ok.weights.close();
  });
});
