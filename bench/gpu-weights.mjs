/**
 * Random weights of real shapes, for bench/gpu.sh's end-to-end `dit sample` runs on a machine
 * that cannot download the official files:
 *   OUT/dit.safetensors + OUT/config.json   a DiT variant (official key names, fp32)
 *   OUT/vae/config.json + diffusion_pytorch_model.safetensors   an AutoencoderKL decoder
 *
 *   node bench/gpu-weights.mjs --model DiT-XL/2 --image-size 256 --vae sd --out DIR
 *   node bench/gpu-weights.mjs --model tiny --image-size 64 --vae small --out DIR
 *
 * Values are uniform in ±1/√fan_in (PyTorch's default Linear/Conv init), GroupNorm scales 1 and
 * biases 0, pos_embed the fixed sin-cos table: finite activations of a realistic scale, unlike the
 * zeros of the official adaLN-Zero init. Plain JavaScript over dist/ so that it runs with the GPU
 * kit's node alone.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sincosPosEmbed2d } from '../dist/checkpoint/pos-embed.js';
import { ditParameterShapes } from '../dist/models/dit-shapes.js';
import { ditConfigFor } from '../dist/models/dit-config.js';
import { randomTensor } from '../dist/runtime/bench.js';
import { SD_VAE_CONFIG, vaeDecoderParameterShapes } from '../dist/models/vae-config.js';

/** A VAE small enough for lavapipe with the SD VAE's ×8 upsampling (four levels). */
const SMALL_VAE = { ...SD_VAE_CONFIG, block_out_channels: [32, 32, 64, 64], layers_per_block: 1, norm_num_groups: 8 };
/** --model tiny: the dit-tiny fixture's shape (depth 2, hidden 64), for a quick run on lavapipe. */
const TINY = { patch_size: 2, in_channels: 4, hidden_size: 64, depth: 2, num_heads: 4, mlp_ratio: 4, class_dropout_prob: 0.1, num_classes: 1000, learn_sigma: true };

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'DiT-XL/2' },
    'image-size': { type: 'string', default: '256' },
    vae: { type: 'string', default: 'sd' },
    out: { type: 'string' },
    seed: { type: 'string', default: '1' },
  },
});
if (!values.out || !['sd', 'small'].includes(values.vae)) throw new Error('usage: node bench/gpu-weights.mjs --model NAME|tiny --image-size PX --vae sd|small --out DIR');
const size = Number(values['image-size']);

/** Lazily generated tensors: the writer asks for each one in turn, so peak memory stays one tensor. */
function randomTensors(shapes, special, seed) {
  let i = 0;
  return [...shapes].map(([name, shape]) => {
    const s = seed * 7919 + i++;
    const n = shape.reduce((a, b) => a * b, 1);
    return {
      name,
      dtype: 'F32',
      shape,
      data: () => special(name, shape, n) ?? randomTensor(n, s, 1 / Math.sqrt(shape.length > 1 ? n / shape[0] : shape[0])),
    };
  });
}

/** A float32 safetensors file (u64 header length, JSON header, raw data), one tensor in memory at a time. */
function writeSafetensors(file, tensors) {
  const header = {};
  let offset = 0;
  for (const t of tensors) {
    const bytes = 4 * t.shape.reduce((a, b) => a * b, 1);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const fd = openSync(file, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json, 'latin1'));
    for (const t of tensors) {
      const data = t.data();
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    }
  } finally {
    closeSync(fd);
  }
}

mkdirSync(values.out, { recursive: true });
const seed = Number(values.seed);

const config = values.model === 'tiny' ? { input_size: size / 8, ...TINY } : ditConfigFor(values.model, { input_size: size / 8 });
const grid = config.input_size / config.patch_size;
const dit = randomTensors(ditParameterShapes(config), (name) => (name === 'pos_embed' ? sincosPosEmbed2d(config.hidden_size, grid) : undefined), seed);
writeSafetensors(path.join(values.out, 'dit.safetensors'), dit);
writeFileSync(path.join(values.out, 'config.json'), `${JSON.stringify(config, null, 1)}\n`);

const vae = values.vae === 'sd' ? SD_VAE_CONFIG : SMALL_VAE;
const norms = (name, shape, n) => (/norm/.test(name) ? new Float32Array(n).fill(name.endsWith('.weight') ? 1 : 0) : shape.length === 1 ? new Float32Array(n) : undefined);
mkdirSync(path.join(values.out, 'vae'), { recursive: true });
writeSafetensors(path.join(values.out, 'vae', 'diffusion_pytorch_model.safetensors'), randomTensors(vaeDecoderParameterShapes(vae), norms, seed + 1));
writeFileSync(path.join(values.out, 'vae', 'config.json'), `${JSON.stringify({ _class_name: 'AutoencoderKL', ...vae }, null, 1)}\n`);

const params = (ts) => ts.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
process.stdout.write(`${JSON.stringify({ model: values.model, image_size: size, dit_parameters: params(dit), vae: values.vae, vae_config: vae, out: path.resolve(values.out) })}\n`);
