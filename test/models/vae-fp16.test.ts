/**
 * fp16 VAE decoder graphs: fp32 graphs and cache keys left as they were, which values are float16,
 * the decode of the vae-tiny fixture against diffusers' output (CPU, and WebGPU where an adapter
 * exists: Mesa lavapipe in CI, which computes in float16), the compiled cache, and `--dtype fp16`
 * reaching the VAE of a sampling pipeline.
 *
 * Tolerances come from measurements on these same inputs (ONNX Runtime 1.30, bench/vae-dtypes.ts),
 * each bound ≈ 3× the measurement:
 * - vae-tiny against diffusers, default parts in fp32: CPU 5.0e-4 (ONNX Runtime's CPU float16
 *   kernels compute in fp32, so only the float16 rounding of weights and activations shows), WebGPU
 *   3.6e-3 (lavapipe accumulates the convolutions in float16 too).
 * fp32 decodes the same fixture within 1e-5 on both (test/models/vae.test.ts), so an error above
 * 1e-4 shows that fp16 really ran.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/checkpoint/npy.js';
import { readSafetensors } from '../../src/checkpoint/safetensors.js';
import { encodeModel, type Graph } from '../../src/graph/index.js';
import { DEFAULT_VAE_FP16_FP32_PARTS, VAE_FP16_PARTS } from '../../src/models/fp16.js';
import { buildVaeDecoder, type VaeDecoderOptions } from '../../src/models/vae.js';
import type { VaeConfig } from '../../src/models/vae-config.js';
import { openVaeSession } from '../../src/model-files.js';
import { createPipeline } from '../../src/pipeline.js';
import { cacheKey } from '../../src/runtime/compiled-cache.js';
import { VAE_DTYPE } from '../../src/runtime/devices.js';
import { createVaeSession, deviceFailure } from '../../src/runtime/index.js';
import { vaeCacheParts, type VaeSessionOptions } from '../../src/runtime/vae-session.js';
import { vaeGraphChoices } from '../../src/runtime/vae-run.js';
import { relativeError } from '../helpers/compare.js';
import { fixtureDir, vaeTinyConfig, vaeTinyRenamed } from '../helpers/fixtures.js';

const FIXTURE = fixtureDir('vae-tiny');
const config: VaeConfig = vaeTinyConfig();
const latents = readNpy(path.join(FIXTURE, 'decode.latents.npy'));
const latentData = latents.data as Float32Array;
const shape = latents.shape as [number, number, number, number];
const reference = readNpy(path.join(FIXTURE, 'decode.image.npy')).data as Float32Array;
const renamed = readSafetensors(vaeTinyRenamed());
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vae-fp16-test-'));
afterAll(() => {
  renamed.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const webgpuProblem = await deviceFailure('webgpu');
const requireWebgpu = process.env.DIT_REQUIRE_WEBGPU === '1';
const devices = webgpuProblem === undefined || requireWebgpu ? (['cpu', 'webgpu'] as const) : (['cpu'] as const);
const checkWebgpu = (device: string) => {
  if (device === 'webgpu' && webgpuProblem !== undefined) throw new Error(`DIT_REQUIRE_WEBGPU=1 but WebGPU is not usable here: ${webgpuProblem}`);
};
const build = (opts: Partial<VaeDecoderOptions> = {}) => buildVaeDecoder(config, renamed.tensors, { latentHeight: 8, latentWidth: 8, ...opts });
/** An initializer by its name without the graph's scopes. */
const dtypeOf = (g: Graph, name: string) => g.initializers.find((i) => i.name.split('/').at(-1) === name)?.dtype;

async function decode(opts: Parameters<typeof createVaeSession>[1]): Promise<Float32Array> {
  const vae = createVaeSession({ config, weights: renamed.tensors }, opts);
  try {
    return (await vae.decode(latentData, shape)).data;
  } finally {
    await vae.release();
  }
}

describe('fp16 VAE decoder graph', () => {
  it('leaves fp32 graphs byte for byte as before fp16, and their cache keys', () => {
    const sha = (opts: Partial<VaeDecoderOptions>) => createHash('sha256').update(encodeModel(build(opts))).digest('hex');
    // Hashes of the graphs and the key built by the code before the VAE had a dtype (commit 0511bdb), same fixture weights.
    const before = '32e3eaf096f17ef4007f8f5f136696a8594e91dd4ef1ed7101538256be00255c';
    expect(sha({})).toBe(before);
    expect(sha({ dtype: 'fp32' })).toBe(before);
    expect(sha({ dtype: 'fp32', fp16KeepFp32: [] })).toBe(before);
    expect(sha({ latentWidth: 6, upsample: 'resize', batch: 2 })).toBe('7cfdf3828ccb8f1fea2b110fd041fb5946359c71c86141a8c6b6bebd69dc3c3e');
    const source = { path: '/x/vae.safetensors', size: 1, mtimeMs: 2 };
    const key = (opts: Parameters<typeof vaeGraphChoices>[0]) => cacheKey(vaeCacheParts(source, config, 0.18215, vaeGraphChoices(opts), 8, 8));
    expect(key({})).toBe('771b683df8d1574ad6ee921e');
    expect(key({ dtype: 'fp32' })).toBe('771b683df8d1574ad6ee921e');
    expect(key({ dtype: 'fp16' })).not.toBe('771b683df8d1574ad6ee921e');
    expect(key({ dtype: 'fp16', fp16KeepFp32: [] })).not.toBe(key({ dtype: 'fp16' }));
  });

  it('keeps latents and image float32, the default parts fp32 and every resnet, upsampler and attention projection float16', () => {
    expect(DEFAULT_VAE_FP16_FP32_PARTS).toEqual(['convOut']);
    const g = build({ dtype: 'fp16' });
    expect([...g.inputs, ...g.outputs].map((v) => v.dtype)).toEqual(['float32', 'float32']);
    for (const w of [
      'decoder.mid_block.resnets.0.conv1.weight', 'decoder.mid_block.resnets.0.norm1.weight', 'decoder.mid_block.attentions.0.qkv.weight',
      'decoder.mid_block.attentions.0.to_out.0.weight', 'decoder.up_blocks.0.upsamplers.0.conv.phase01.weight',
      'decoder.up_blocks.1.resnets.0.conv_shortcut.weight', 'post_quant_conv.weight', 'decoder.conv_in.weight',
    ]) expect(dtypeOf(g, w), w).toBe('float16');
    for (const w of ['decoder.conv_norm_out.weight', 'decoder.conv_out.weight', 'decoder.conv_out.bias']) expect(dtypeOf(g, w), w).toBe('float32');
    // Every part in fp32 leaves only the resnets', upsamplers' and attention projections' weights in float16.
    const all = build({ dtype: 'fp16', fp16KeepFp32: VAE_FP16_PARTS });
    for (const w of ['decoder.mid_block.resnets.0.norm1.weight', 'post_quant_conv.weight', 'decoder.conv_in.weight', 'decoder.conv_out.weight']) expect(dtypeOf(all, w), w).toBe('float32');
    expect(dtypeOf(all, 'decoder.mid_block.resnets.0.conv1.weight')).toBe('float16');
    // Nothing in fp32: conv_out is float16 too, and so is the softmax's input (one MatMul → Softmax chain, no Cast between).
    const none = build({ dtype: 'fp16', fp16KeepFp32: [] });
    expect(dtypeOf(none, 'decoder.conv_out.weight')).toBe('float16');
    expect(none.nodes.filter((n) => n.opType === 'Cast')).toHaveLength(2); // latents in, image out
  });

  for (const device of devices) {
    it(`${device}: decodes the fixture within ${device === 'cpu' ? '1.5e-3' : '1.1e-2'} of diffusers' output`, async () => {
      checkWebgpu(device);
      const err = relativeError(await decode({ device, dtype: 'fp16' }), reference);
      expect(err).toBeLessThan(device === 'cpu' ? 1.5e-3 : 1.1e-2);
      expect(err).toBeGreaterThan(1e-4); // fp32 is below 1e-5 here: fp16 ran
    });
  }

  it('caches fp16 decoders apart from fp32 ones and reloads them', async () => {
    const file = path.join(dir, 'vae', 'diffusion_pytorch_model.safetensors');
    fs.mkdirSync(path.dirname(file));
    fs.copyFileSync(vaeTinyRenamed(), file);
    fs.copyFileSync(path.join(FIXTURE, 'config.json'), path.join(dir, 'vae', 'config.json'));
    const cacheDir = path.join(dir, 'cache');
    const run = async (dtype: 'fp32' | 'fp16', more: VaeSessionOptions = {}) => {
      const vae = await openVaeSession(file, { cacheDir, dtype, ...more });
      try {
        return (await vae.decode(latentData, shape)).data;
      } finally {
        await vae.release();
      }
    };
    const entries = () => fs.readdirSync(cacheDir).filter((d) => d.startsWith('vae-')).sort();
    const fp16 = await run('fp16');
    expect(entries()).toHaveLength(1);
    const fp32 = await run('fp32');
    expect(entries()).toHaveLength(2);
    const again = await run('fp16');
    expect(entries()).toHaveLength(2); // reloaded, not rebuilt
    expect(Array.from(again)).toEqual(Array.from(fp16));
    expect(relativeError(fp32, reference)).toBeLessThan(1e-5);
    // The fp16 graph holds about half the fp32 graph's weight bytes: so do the entries of the plain
    // graphs (other devices; level 'extended' here). The CPU's default entries hold ONNX Runtime's
    // optimised models (vae-session.ts cachedVaeModel), where its CPU casts widened fp16 weights to fp32.
    const dataBytes = (d: string) => fs.readdirSync(path.join(cacheDir, d)).filter((f) => f.endsWith('.data')).reduce((s, f) => s + fs.statSync(path.join(cacheDir, d, f)).size, 0);
    const optimised = entries();
    await run('fp16', { graphOptimizationLevel: 'extended' });
    await run('fp32', { graphOptimizationLevel: 'extended' });
    const sizes = entries().filter((e) => !optimised.includes(e)).map(dataBytes).sort((a, b) => a - b);
    expect(sizes).toHaveLength(2);
    expect(sizes[0]! / sizes[1]!).toBeGreaterThan(0.45);
    expect(sizes[0]! / sizes[1]!).toBeLessThan(0.6);
  });
});

describe('--dtype and the VAE of a sampling pipeline', () => {
  it('fp16 decodes in fp16, q8 and fp32 in fp32 (one rule: VAE_DTYPE)', () => {
    expect(VAE_DTYPE).toEqual({ fp32: 'fp32', q8: 'fp32', fp16: 'fp16' });
  });

  it.runIf(webgpuProblem === undefined || requireWebgpu)('webgpu --dtype fp16: the images are the fp16 VAE decode of the sampled latents', async () => {
    checkWebgpu('webgpu');
    const cacheDir = path.join(dir, 'pipeline-cache');
    const p = await createPipeline({ ckpt: path.join(fixtureDir('dit-tiny'), 'model.pt'), vae: FIXTURE, device: 'webgpu', dtype: 'fp16', cacheDir });
    let result;
    try {
      result = await p.generate({ classLabels: [1, 2], numSamplingSteps: 2, seed: 3 });
    } finally {
      await p.dispose();
    }
    const decodeOn = async (dtype: 'fp32' | 'fp16') => {
      const vae = await openVaeSession(FIXTURE, { device: 'webgpu', dtype });
      try {
        return (await vae.decode(result.latents.data, result.latents.shape)).data;
      } finally {
        await vae.release();
      }
    };
    const images = result.images!.data;
    expect(relativeError(images, await decodeOn('fp16'))).toBeLessThan(1e-6);
    expect(relativeError(images, await decodeOn('fp32'))).toBeGreaterThan(1e-4);
  });
});
