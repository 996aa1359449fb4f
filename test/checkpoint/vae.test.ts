import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadVaeCheckpoint, openStateDict, type VaeCheckpoint } from '../../src/checkpoint/index.js';
import { vaeDecoderParameterShapes } from '../../src/models/vae-config.js';
import { toLdmVaeLayout, writeSafetensorsOf, writeTorchStateDict, type NamedTensor } from '../helpers/checkpoint-writers.js';
import { tempDir, vaeTiny, vaeTinyRenamed } from '../helpers/fixtures.js';

const tmp = tempDir();
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const stated = JSON.parse(fs.readFileSync(vaeTiny('config.json'), 'utf-8')) as Record<string, unknown>;
const expectedConfig = {
  in_channels: stated.in_channels,
  out_channels: stated.out_channels,
  block_out_channels: stated.block_out_channels,
  layers_per_block: stated.layers_per_block,
  latent_channels: stated.latent_channels,
  norm_num_groups: stated.norm_num_groups,
  scaling_factor: stated.scaling_factor,
};

/** The new-naming file, as the reference every other naming must reproduce bit for bit. */
const renamed: NamedTensor[] = (() => {
  const sd = openStateDict(vaeTinyRenamed());
  const out = [...sd.tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.toFloat32() }));
  sd.close();
  return out;
})();

function expectCanonical(v: VaeCheckpoint): void {
  expect(v.config).toEqual(expectedConfig);
  expect(v.scalingFactor).toBe(0.18215);
  expect(v.weights.tensors.size).toBe(renamed.length);
  // Decoder weights first, in the order the graph reads them.
  expect([...v.weights.tensors.keys()].slice(0, vaeDecoderParameterShapes(v.config).size)).toEqual([...vaeDecoderParameterShapes(v.config).keys()]);
  for (const r of renamed) {
    const t = v.weights.tensors.get(r.name);
    expect(t, r.name).toBeDefined();
    expect(t!.shape, r.name).toEqual(r.shape);
    const got = t!.toFloat32();
    expect(Buffer.from(got.buffer).equals(Buffer.from(r.data.buffer)), r.name).toBe(true);
  }
  v.weights.close();
}

describe('loadVaeCheckpoint', () => {
  it('the fixture folder (old attention names: query/key/value/proj_attn)', () => {
    const v = loadVaeCheckpoint(path.dirname(vaeTiny('config.json')));
    expect(path.basename(v.path)).toBe('diffusion_pytorch_model.safetensors');
    expect(v.layout).toBe('diffusers-old-attention');
    expect(v.warnings).toEqual([]);
    expectCanonical(v);
  });

  it('the new attention names (to_q/to_k/to_v/to_out.0)', () => {
    const v = loadVaeCheckpoint(vaeTinyRenamed());
    expect(v.layout).toBe('diffusers');
    expectCanonical(v);
  });

  it('an original LDM / Stable Diffusion checkpoint (first_stage_model.*, 1×1 conv attention, reversed up levels)', () => {
    const dir = path.join(tmp, 'ldm');
    fs.mkdirSync(dir);
    fs.copyFileSync(vaeTiny('config.json'), path.join(dir, 'config.json'));
    const ldm = toLdmVaeLayout(renamed, 2);
    expect(ldm.find((t) => t.name === 'first_stage_model.decoder.up.1.block.0.conv1.weight')!.shape).toEqual([64, 64, 3, 3]);
    const unet = { name: 'model.diffusion_model.input_blocks.0.0.weight', shape: [2], data: new Float32Array(2) };
    writeTorchStateDict(path.join(dir, 'sd.ckpt'), [...ldm, unet]);
    const v = loadVaeCheckpoint(path.join(dir, 'sd.ckpt'));
    expect(v.layout).toBe('ldm');
    expect(v.warnings).toEqual([`used the ${ldm.length} first_stage_model.* tensors; 1 others (UNet, text encoder) were ignored`]);
    expectCanonical(v);
  });

  it('without config.json the shapes give the config, with SD defaults for groups and scale (and a warning)', () => {
    const f = path.join(tmp, 'bare.safetensors');
    writeSafetensorsOf(f, renamed);
    // vae-tiny uses 8 groups, which no shape reveals: the loader must say it assumed 32.
    const v = loadVaeCheckpoint(f);
    expect(v.config).toEqual({ ...expectedConfig, norm_num_groups: 32 });
    expect(v.warnings[0]).toMatch(/no config.json beside .*assumed norm_num_groups 32 and scaling_factor 0.18215/);
    v.weights.close();
  });

  it('a decoder with a missing tensor or a contradicting config is refused with the names', () => {
    const dir = path.join(tmp, 'broken');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...stated, layers_per_block: 2 }));
    writeSafetensorsOf(path.join(dir, 'diffusion_pytorch_model.safetensors'), renamed.filter((t) => t.name !== 'decoder.mid_block.attentions.0.to_k.bias'));
    expect(() => loadVaeCheckpoint(dir)).toThrow(/says layers_per_block 2 but the weights have 1\n\s+missing keys: decoder\.mid_block\.attentions\.0\.to_k\.bias$/);
  });
});
