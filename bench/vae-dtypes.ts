/**
 * VAE decoder precisions against fp32: which parts fp16 must keep in fp32 (measured where float16
 * is really computed: WebGPU, on Mesa lavapipe here, which has shader-f16), on the vae-tiny
 * fixture (against diffusers' output) and on the SD VAE's real shapes with random weights
 * (bench/vae-weights.ts; against the fp32 CPU decode of the same latents).
 *
 *   npx tsx bench/vae-dtypes.ts [--device webgpu] [--latent 8] [--images 2] [--variants none,groupNorm,…,default,all]
 *
 * A variant names the parts kept in fp32 ('+'-joined; none, default, all). Rows: relative error
 * and PSNR (images clamped to [-1, 1]) of each fp16 variant and of fp32 on the same device.
 * Prints a table, then one JSON line.
 */
import path from 'node:path';
import { readNpy } from '../src/checkpoint/index.js';
import { DEFAULT_VAE_FP16_FP32_PARTS, VAE_FP16_PARTS, type VaeFp16Part } from '../src/models/fp16.js';
import { SD_VAE_CONFIG } from '../src/models/vae-config.js';
import { openVaeSession } from '../src/model-files.js';
import { createVaeSession, type VaeSession } from '../src/runtime/index.js';
import type { Device } from '../src/runtime/devices.js';
import { createTorchGenerator } from '../src/diffusion/random.js';
import { arg } from './args.js';
import { psnr } from './fidelity-probes.js';
import { randomWeights } from './vae-weights.js';
import { relativeError } from '../test/helpers/compare.js';
import { vaeTinyRenamed } from '../test/helpers/fixtures.js';

const device = arg('--device', 'webgpu') as Device;
const latent = Number(arg('--latent', '8'));
const images = Number(arg('--images', '2'));
const variants = arg('--variants', 'fp32,none,groupNorm,attention,convIn,convOut,default,all').split(',');
const FIXTURE = path.join(import.meta.dirname, '../test/fixtures/vae-tiny');

const partsOf = (v: string): readonly VaeFp16Part[] =>
  v === 'none' ? [] : v === 'default' ? DEFAULT_VAE_FP16_FP32_PARTS : v === 'all' ? VAE_FP16_PARTS : (v.split('+') as VaeFp16Part[]);

async function decodeWith(vae: VaeSession, data: Float32Array, shape: [number, number, number, number]) {
  const t0 = performance.now();
  try {
    const out = await vae.decode(data, shape);
    return { data: out.data, seconds: (performance.now() - t0) / 1000 };
  } finally {
    await vae.release();
  }
}

const fixLatents = readNpy(path.join(FIXTURE, 'decode.latents.npy'));
const fixRef = readNpy(path.join(FIXTURE, 'decode.image.npy')).data as Float32Array;
const fixShape = fixLatents.shape as [number, number, number, number];
const sdWeights = randomWeights(SD_VAE_CONFIG);
const sdShape: [number, number, number, number] = [images, 4, latent, latent];
const sdLatents = createTorchGenerator(5).randn(images * 4 * latent * latent); // DiT's latents: about unit variance
const sdRef = (await decodeWith(createVaeSession({ config: SD_VAE_CONFIG, weights: sdWeights }, { device: 'cpu' }), sdLatents, sdShape)).data;
let refMin = Infinity;
let refMax = -Infinity;
for (const v of sdRef) [refMin, refMax] = [Math.min(refMin, v), Math.max(refMax, v)];

const rows: Array<Record<string, string | number>> = [];
for (const v of variants) {
  const dtype = v === 'fp32' ? 'fp32' : 'fp16';
  const opts = { device, dtype, ...(dtype === 'fp16' ? { fp16KeepFp32: partsOf(v) } : {}) } as const;
  const fix = await decodeWith(await openVaeSession(vaeTinyRenamed(), opts), fixLatents.data as Float32Array, fixShape);
  const sd = await decodeWith(createVaeSession({ config: SD_VAE_CONFIG, weights: sdWeights }, opts), sdLatents, sdShape);
  rows.push({
    variant: v,
    tiny_rel: +relativeError(fix.data, fixRef).toExponential(2),
    sd_rel: +relativeError(sd.data, sdRef).toExponential(2),
    sd_psnr_db: +psnr(sd.data, sdRef).toFixed(1),
    sd_nonfinite: sd.data.filter((x) => !Number.isFinite(x)).length,
    sd_s: +sd.seconds.toFixed(1),
  });
  console.error(JSON.stringify(rows.at(-1)));
}

console.log(`VAE decoder on ${device} against fp32 (CPU): vae-tiny fixture vs diffusers; SD VAE shapes, random weights, ${images} × latent ${latent}×${latent} (fp32 output range ${refMin.toFixed(2)}..${refMax.toFixed(2)}); variant = parts kept in fp32`);
const cols = Object.keys(rows[0]!);
console.log(cols.map((c) => c.padStart(14)).join(''));
for (const row of rows) console.log(cols.map((c) => String(row[c]).padStart(14)).join(''));
console.log(JSON.stringify({ bench: 'vae-dtypes', device, latent, images, rows }));
