import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSafetensors } from '../../src/checkpoint/safetensors.js';
import { readNpy } from '../../src/checkpoint/npy.js';
import type { LazyTensor } from '../../src/checkpoint/types.js';
import { buildVaeDecoder, vaeDecodeBytes, vaeDecoderMacs } from '../../src/models/vae.js';
import { SD_VAE_CONFIG, vaeDecoderParameterShapes, type VaeConfig } from '../../src/models/vae-config.js';
import { createVaeSession } from '../../src/runtime/index.js';
import { openVaeSession } from '../../src/model-files.js';
import { deviceSupport } from '../../src/runtime/index.js';
import { UsageError } from '../../src/errors.js';
import { relativeError } from '../helpers/compare.js';
import { fixtureDir, vaeTinyConfig, vaeTinyRenamed } from '../helpers/fixtures.js';

const FIXTURE = fixtureDir('vae-tiny');
const config: VaeConfig = vaeTinyConfig();
const latents = readNpy(path.join(FIXTURE, 'decode.latents.npy'));
const reference = readNpy(path.join(FIXTURE, 'decode.image.npy'));
const renamed = readSafetensors(vaeTinyRenamed());
afterAll(() => renamed.close());

async function decodeOnCpu(weights: ReadonlyMap<string, LazyTensor>, maxBatch: number, upsample?: 'resize' | 'phases') {
  const vae = createVaeSession({ config, weights }, { device: 'cpu', maxBatch, upsample });
  try {
    return await vae.decode(latents.data as Float32Array, latents.shape as [number, number, number, number]);
  } finally {
    await vae.release();
  }
}

describe('VAE decoder graph against diffusers AutoencoderKL.decode (vae-tiny fixture)', () => {
  it('CPU: relative error < 1e-5, in one call and one image per call, both upsample forms', async () => {
    expect(latents.shape).toEqual([2, 4, 8, 8]);
    for (const [maxBatch, upsample] of [[4, 'phases'], [1, 'phases'], [4, 'resize']] as const) {
      const out = await decodeOnCpu(renamed.tensors, maxBatch, upsample);
      expect(out.shape).toEqual([2, 3, 16, 16]);
      expect(reference.shape).toEqual([2, 3, 16, 16]);
      expect(relativeError(out.data, reference.data as Float32Array)).toBeLessThan(1e-5);
    }
  });

  const requireWebgpu = process.env.DIT_REQUIRE_WEBGPU === '1';
  it.runIf(deviceSupport().webgpu.available || requireWebgpu)('WebGPU, both weight files through the loader: relative error < 1e-3', async () => {
    for (const file of [path.join(FIXTURE, 'diffusion_pytorch_model.safetensors'), vaeTinyRenamed()]) {
      let out;
      try {
        const vae = await openVaeSession(file, { device: 'webgpu' });
        try {
          out = await vae.decode(latents.data as Float32Array, [2, 4, 8, 8]);
        } finally {
          await vae.release();
        }
      } catch (err) {
        if (requireWebgpu) throw new Error(`DIT_REQUIRE_WEBGPU=1 but the WebGPU run failed: ${(err as Error).message}`);
        console.warn(`WebGPU provider present but unusable here, skipped: ${(err as Error).message}`);
        return;
      }
      expect(relativeError(out.data, reference.data as Float32Array), file).toBeLessThan(1e-3);
    }
  });

  it('tiled decoding (tile 4 over 8×8): the unblended top-left tile equals a whole decode of its latent crop', async () => {
    const lat = latents.data as Float32Array;
    const vae = createVaeSession({ config, weights: renamed.tensors }, { tile: { latentTile: 4 } });
    const tiled = await vae.decode(lat, [2, 4, 8, 8]);
    // the same crop decoded whole: latents[:, :, 0:4, 0:4] (4 is the tile, so no tiling applies)
    const crop = new Float32Array(2 * 4 * 16);
    for (let p = 0; p < 8; p++) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) crop[p * 16 + y * 4 + x] = lat[p * 64 + y * 8 + x];
    const whole = await vae.decode(crop, [2, 4, 4, 4]);
    await vae.release();
    expect(tiled.shape).toEqual([2, 3, 16, 16]);
    expect(whole.shape).toEqual([2, 3, 8, 8]);
    // tile image 8, blend 2: the first 6×6 pixels of every plane come from tile (0, 0) untouched
    for (let p = 0; p < 6; p++)
      for (let y = 0; y < 6; y++)
        for (let x = 0; x < 6; x++) expect(tiled.data[p * 256 + y * 16 + x]).toBe(whole.data[p * 64 + y * 8 + x]);
  });

  it('phase upsampling equals resize + conv on a non-square latent (8×6)', async () => {
    const lat = (latents.data as Float32Array).subarray(0, 4 * 48);
    const outs = [];
    for (const upsample of ['phases', 'resize'] as const) {
      const vae = createVaeSession({ config, weights: renamed.tensors }, { upsample });
      outs.push(await vae.decode(lat, [1, 4, 8, 6]));
      await vae.release();
    }
    expect(outs[0].shape).toEqual([1, 3, 16, 12]);
    expect(relativeError(outs[0].data, outs[1].data)).toBeLessThan(1e-6);
  });

  it('rejects latents with the wrong channel count, naming the shape', async () => {
    const vae = createVaeSession({ config, weights: renamed.tensors });
    await expect(vae.decode(new Float32Array(3 * 64), [1, 3, 8, 8])).rejects.toThrow(/latents have 3 channels \(shape \[1, 3, 8, 8\]\); this VAE decodes 4-channel latents/);
    await vae.release();
  });
});

describe('VAE decoder graph construction', () => {
  it('reads exactly the decoder tensors of the file (every decoder key, no encoder key)', () => {
    const expected = [...renamed.tensors.keys()].filter((k) => k.startsWith('decoder.') || k.startsWith('post_quant_conv.')).sort();
    expect([...vaeDecoderParameterShapes(config).keys()].sort()).toEqual(expected);
    for (const [name, shape] of vaeDecoderParameterShapes(config)) expect(renamed.tensors.get(name)!.shape, name).toEqual(shape);
  });

  it('lists missing and mis-shaped tensors with the config they were checked against', () => {
    const tensors = new Map(renamed.tensors);
    tensors.delete('decoder.mid_block.attentions.0.to_k.bias');
    tensors.set('decoder.conv_out.weight', { dtype: 'F32', shape: [3, 32, 1, 1], toFloat32: () => new Float32Array(96) });
    const build = () => buildVaeDecoder(config, tensors, { latentHeight: 8, latentWidth: 8 });
    expect(build).toThrow(UsageError);
    expect(build).toThrow(/missing decoder\.mid_block\.attentions\.0\.to_k\.bias \[64\]/);
    expect(build).toThrow(/decoder\.conv_out\.weight has shape \[3,32,1,1\], expected \[3,32,3,3\]/);
    expect(build).toThrow(/block_out_channels \[32, 64\], layers_per_block 1/);
  });

  it('has a symbolic batch, static spatial dims and an 8× image for four blocks', () => {
    const graph = buildVaeDecoder(config, renamed.tensors, { latentHeight: 8, latentWidth: 6 });
    expect(graph.inputs.map((v) => [v.name, v.shape])).toEqual([['latents', ['N', 4, 8, 6]]]);
    expect(graph.outputs.map((v) => [v.name, v.shape])).toEqual([['image', ['N', 3, 16, 12]]]);
  });
});

describe('vaeDecoderMacs', () => {
  it('counts the tiny decoder by hand and the SD decoder at 32×32 as 311 G', () => {
    // post_quant 4·4·64 + conv_in 4·64·9·64 + mid resnets 4·(64·64·9·64) + attention 4·64²·64 + 2·64²·64
    // + up0 resnets 4·(64·64·9·64) + upsample 64·64·9·256 + up1 (64·32·9 + 32·32·9 + 64·32)·256 + 2·32·32·9·256
    // + conv_out 32·3·9·256
    expect(vaeDecoderMacs(config, 8, 8)).toBe(42_574_848);
    expect(vaeDecoderMacs(SD_VAE_CONFIG, 32, 32)).toBe(311_093_641_216);
  });
});

describe('VAE decode memory bound', () => {
  it('puts fewer images in a call to stay under the limit, with the same result', async () => {
    const [n, , h, w] = latents.shape as [number, number, number, number];
    expect(n).toBe(2);
    const vae = createVaeSession({ config, weights: renamed.tensors }, { memoryLimitBytes: vaeDecodeBytes(config, h, w) });
    try {
      const out = await vae.decode(latents.data as Float32Array, latents.shape as [number, number, number, number]);
      expect(relativeError(out.data, reference.data as Float32Array)).toBeLessThan(1e-5);
    } finally {
      await vae.release();
    }
  });

  it('refuses a latent whose decode would take more than the limit (160×160: about 5 GB), before building anything', async () => {
    expect(vaeDecodeBytes(config, 160, 160)).toBeGreaterThan(5e9);
    const vae = createVaeSession({ config, weights: renamed.tensors });
    const t0 = performance.now();
    await expect(vae.decode(new Float32Array(4 * 160 * 160), [1, 4, 160, 160])).rejects.toThrow(
      'decoding a 160×160 latent whole needs about 4.9 GB (the VAE\'s attention grows with (h·w)²), over the 2.0 GB limit; decode it in tiles (dit decode --tile 32) or raise the limit (--max-memory GB)',
    );
    expect(performance.now() - t0).toBeLessThan(1000);
    await vae.release();
  });
});

describe('VAE decode input shapes', () => {
  it('a zero-size batch says there is no image, not "0 values but shape needs 0"', async () => {
    const vae = createVaeSession({ config, weights: renamed.tensors });
    await expect(vae.decode(new Float32Array(0), [0, 4, 8, 8])).rejects.toThrow('latents of shape [0, 4, 8, 8] hold no image: N, h and w must each be at least 1');
    await vae.release();
  });
});
