import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../../src/checkpoint/index.js';
import { toByte } from '../../src/image/grid.js';
import { readPng } from '../../src/image/png.js';
import { runCli } from '../helpers/run-cli.js';
import { relativeError } from '../helpers/compare.js';
import { fixtureDir } from '../helpers/fixtures.js';
import { deviceFailure } from '../../src/runtime/index.js';

const FIXTURE = fixtureDir('vae-tiny');
const LATENTS = path.join(FIXTURE, 'decode.latents.npy');
const reference = readNpy(path.join(FIXTURE, 'decode.image.npy'));
const webgpuProblem = await deviceFailure('webgpu');

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-decode-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('dit decode (vae-tiny fixture)', () => {
  for (const weights of ['diffusion_pytorch_model.safetensors', 'renamed.safetensors']) {
    // the folder picks diffusion_pytorch_model.safetensors (old attention names); the file path reads config.json beside it
    it(`${weights}: --save-images matches vae.decode(latents / 0.18215) to 1e-5`, async () => {
      const vae = weights === 'renamed.safetensors' ? path.join(FIXTURE, weights) : FIXTURE;
      const out = path.join(dir, 'out.npy');
      const r = await runCli(['decode', '--vae', vae, '--latents', LATENTS, '--save-images', out, '--no-cache']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const images = readNpy(out);
      expect(images.shape).toEqual([2, 3, 16, 16]);
      expect(relativeError(images.data as Float32Array, reference.data as Float32Array)).toBeLessThan(1e-5);
      expect(fs.existsSync(path.join(dir, 'grid.png'))).toBe(false); // only what was asked for
    });
  }

  it('writes the grid (2 images side by side, 2-pixel border) and one PNG per image', async () => {
    const grid = path.join(dir, 'grid.png');
    const each = path.join(dir, 'each');
    const r = await runCli(['decode', '--vae', FIXTURE, '--latents', LATENTS, '--out', grid, '--save-each', each, '--samples-per-row', '4', '--no-cache']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/decoded 2 latent\(s\) \[2, 4, 8, 8\] to 16×16 images/);
    const png = readPng(grid);
    expect([png.width, png.height]).toEqual([2 * 18 + 2, 20]);
    // pixel (0, 0) of image 1 sits at (20, 2); its red value is the byte of ref[1, 0, 0, 0] (float noise may move it by one)
    expect(Math.abs(png.data[(2 * 38 + 20) * 3] - toByte((reference.data as Float32Array)[768]))).toBeLessThanOrEqual(1);
    expect(png.data[0]).toBe(0); // the border
    expect(fs.readdirSync(each).sort()).toEqual(['000000.png', '000001.png']);
    expect(readPng(path.join(each, '000000.png')).width).toBe(16);
  });

  it('--tile 4 decodes the 8×8 latents in tiles: same image size, numbers no longer those of a whole decode', async () => {
    const out = path.join(dir, 'tiled.npy');
    const r = await runCli(['decode', '--vae', FIXTURE, '--latents', LATENTS, '--save-images', out, '--tile', '4', '--no-cache']);
    expect(r.code).toBe(0);
    const tiled = readNpy(out);
    expect(tiled.shape).toEqual([2, 3, 16, 16]);
    // per-tile GroupNorm statistics and attention change the numbers; a whole decode would match to 1e-6
    expect(relativeError(tiled.data as Float32Array, reference.data as Float32Array)).toBeGreaterThan(1e-3);
  });

  it.runIf(webgpuProblem === undefined || process.env.DIT_REQUIRE_WEBGPU === '1')('--dtype fp16 --device webgpu decodes in float16 (bound and floor as test/models/vae-fp16.test.ts)', async () => {
    if (webgpuProblem !== undefined) throw new Error(`DIT_REQUIRE_WEBGPU=1 but WebGPU is not usable here: ${webgpuProblem}`);
    const out = path.join(dir, 'fp16.npy');
    const r = await runCli(['decode', '--vae', FIXTURE, '--latents', LATENTS, '--save-images', out, '--dtype', 'fp16', '--device', 'webgpu', '--no-cache']);
    expect(r.code, r.stderr).toBe(0);
    const err = relativeError(readNpy(out).data as Float32Array, reference.data as Float32Array);
    expect(err).toBeLessThan(1.1e-2);
    expect(err).toBeGreaterThan(1e-4);
  });

  it('reports bad input in one line with exit code 2', async () => {
    const ints = path.join(dir, 'ints.npy');
    writeNpy(ints, new BigInt64Array(4), [1, 4]);
    const cases: Array<[string[], RegExp]> = [
      [['--latents', ints], /--latents .*ints\.npy holds int64 of shape \[1, 4\]; expected float32 latents \(N, 4, h, w\)/],
      [['--latents', path.join(dir, 'none.npy')], /--latents .*none\.npy: no such file/],
      [['--latents', LATENTS, '--samples-per-row', 'two'], /--samples-per-row "two" is not a number: must be an integer in 1\.\.256/],
      [['--latents', LATENTS, '--device', 'tpu'], /--device/],
      [['--latents', LATENTS, '--tile', '1'], /--tile "1" is out of range: must be an integer in 2\.\.4096/],
      [['--latents', LATENTS, '--max-memory', '0'], /--max-memory "0" is out of range: must be a number in 0\.0001\.\.1024/],
      [['--latents', LATENTS, '--dtype', 'q4'], /^dit: --dtype "q4" is not supported: must be one of fp32, fp16\n$/],
      [['--latents', LATENTS, '--dtype', 'q8'], /^dit: --dtype q8 is a DiT precision only \(under it the VAE decodes in fp32\): dit decode takes --dtype fp32 or fp16; use --dtype fp32\n$/],
      [['--latents', LATENTS, '--dtype', 'fp16'], /^dit: --dtype fp16 does not run on --device cpu: it runs on webgpu, cuda; use --device webgpu, or on cpu --dtype fp32\n$/],
      // 8×8 latents of vae-tiny need 160 kB per image: a 100 kB limit refuses them, naming the flag
      [['--latents', LATENTS, '--max-memory', '0.0001'], /decoding a 8×8 latent whole needs about 0\.2 MB .* over the 0\.1 MB limit; decode it in tiles \(dit decode --tile 32\) or raise the limit \(--max-memory GB\)/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli(['decode', '--vae', FIXTURE, ...args, '--out', path.join(dir, 'g.png'), '--no-cache']);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    const wrong = path.join(dir, 'three.npy');
    writeNpy(wrong, new Float32Array(3 * 64), [1, 3, 8, 8]);
    const r = await runCli(['decode', '--vae', FIXTURE, '--latents', wrong, '--no-cache', '--out', path.join(dir, 'g.png')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/latents have 3 channels \(shape \[1, 3, 8, 8\]\); this VAE decodes 4-channel latents/);
  });
});
