/** `dit sample` end to end on the dit-tiny fixture, and every user error it can meet. */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../helpers/run-cli.js';
import { readNpy } from '../../src/checkpoint/index.js';
import { relativeError } from '../helpers/compare.js';
import { decodePng } from '../../src/image/png.js';
import { fixtureDir } from '../helpers/fixtures.js';

const tiny = fixtureDir('dit-tiny');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dit-sample-'));

describe('dit sample on an official-layout checkpoint', () => {
  it('writes the latents of the official loop with no flag but the checkpoint (config.json beside it)', async () => {
    const out = path.join(tmp(), 'out.npy');
    const r = await runCli([
      'sample', '--ckpt', path.join(tiny, 'model.pt'), '--class-labels', '3,7', '--cfg-scale', '4',
      '--num-sampling-steps', '10', '--seed', '0', '--vae', 'none', '--save-latents', out, '--quiet', '--no-cache',
    ]);
    expect(r).toMatchObject({ code: 0, stdout: `${out}\n`, stderr: '' });
    const got = readNpy(out);
    const ref = readNpy(path.join(tiny, 'sample0.npy'));
    expect(got.shape).toEqual([2, 4, 8, 8]);
    expect(relativeError(got.data as Float32Array, ref.data as Float32Array)).toBeLessThan(1e-4);
  });
});

describe('dit sample --dtype', () => {
  it('says which precision the VAE decoded in when it is not the DiT\'s (q8 decodes in fp32)', async () => {
    const r = await runCli([
      'sample', '--ckpt', path.join(tiny, 'model.pt'), '--vae', path.resolve(tiny, '../vae-tiny'), '--class-labels', '1',
      '--num-sampling-steps', '2', '--out', path.join(tmp(), 'grid.png'), '--no-cache', '--dtype', 'q8',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/ · dtype q8 \(VAE fp32\) · attention fused$/);
  });

  it('q8 samples the official case close to the reference, and says which dtype it used', async () => {
    const out = path.join(tmp(), 'out.npy');
    const r = await runCli([
      'sample', '--ckpt', path.join(tiny, 'model.pt'), '--class-labels', '3,7', '--cfg-scale', '4',
      '--num-sampling-steps', '10', '--seed', '0', '--vae', 'none', '--save-latents', out, '--no-cache', '--dtype', 'q8',
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/ · dtype q8 · attention fused$/);
    const err = relativeError(readNpy(out).data as Float32Array, readNpy(path.join(tiny, 'sample0.npy')).data as Float32Array);
    // q8 is not the official computation: measured 3.2e-5 here (fp32: 2.4e-7); the bound is 10× that,
    // and an error above 2e-6 shows the int8 graph ran.
    expect(err).toBeGreaterThan(2e-6);
    expect(err).toBeLessThan(3e-4);
  });

  it.each([
    [['--dtype', 'q4'], 'dit: --dtype "q4" is not supported: must be one of fp32, q8, fp16'],
    [['--dtype', 'q8', '--device', 'webgpu'], 'dit: --dtype q8 does not run on --device webgpu: it runs on cpu; use --device cpu, or on webgpu --dtype fp32 or fp16'],
    [['--dtype', 'fp16'], 'dit: --dtype fp16 does not run on --device cpu: it runs on webgpu, cuda; use --device webgpu, or on cpu --dtype fp32 or q8'],
  ])('%j is refused before loading, in one line', async (flags, message) => {
    const r = await runCli(['sample', '--ckpt', path.join(tiny, 'model.pt'), '--vae', 'none', '--save-latents', path.join(tmp(), 'x.npy'), ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${message}\n`);
  });
});

describe('dit sample --attention', () => {
  it('plain and fused give the same images to float rounding, say which form ran, and keep one compiled model each', async () => {
    const dir = tmp();
    const cacheDir = path.join(dir, 'cache');
    const run = (form: string | undefined, name: string) =>
      runCli([
        'sample', '--class-labels', '0,1,2,3', '--num-sampling-steps', '10', '--cache-dir', cacheDir,
        '--save-latents', path.join(dir, `${name}.npy`), '--out', path.join(dir, `${name}.png`), ...(form ? ['--attention', form] : []),
      ]);
    const fused = await run(undefined, 'default'); // the CPU's default: fused (runtime/devices.ts)
    const plain = await run('plain', 'plain');
    for (const r of [fused, plain]) expect(r.code, r.stderr).toBe(0);
    expect(fused.stderr.trim().split('\n').at(-1)).toMatch(/ · dtype fp32 · attention fused$/);
    expect(plain.stderr.trim().split('\n').at(-1)).toMatch(/ · dtype fp32 · attention plain$/);

    // The two forms differ only in float32 rounding inside attention: one CPU forward of the embedded
    // model, plain against fused, measured 1.6e-7..2.1e-7 relative (8 images, t = 999, 500, 20). A
    // short DDPM run amplifies a forward's difference at most ~60× (test/cli/webgpu.test.ts: 3 steps,
    // 3e-5 from forwards within 5e-7), so 2e-7 × 60 ≈ 1.2e-5, bound 2e-5; these 10 steps measured
    // 9.6e-7. Not equal, though: equal latents would mean the flag never reached the graph.
    const got = readNpy(path.join(dir, 'plain.npy')).data as Float32Array;
    const want = readNpy(path.join(dir, 'default.npy')).data as Float32Array;
    const err = relativeError(got, want);
    expect(err).toBeGreaterThan(0);
    expect(err).toBeLessThan(2e-5);
    const a = decodePng(fs.readFileSync(path.join(dir, 'plain.png')));
    const b = decodePng(fs.readFileSync(path.join(dir, 'default.png')));
    // 2e-5 of pixels in [-1, 1] is far below half an 8-bit level: at most a value on a rounding edge moves by one.
    expect(Math.max(...a.data.map((v, i) => Math.abs(v - b.data[i]!)))).toBeLessThanOrEqual(1);

    // The cache key holds the graph options: one entry per form, neither replacing the other.
    const compiled = path.join(cacheDir, 'compiled');
    const entries = () =>
      fs
        .readdirSync(compiled)
        .filter((d) => d.startsWith('dit-'))
        .map((d) => JSON.parse(fs.readFileSync(path.join(compiled, d, 'meta.json'), 'utf8')) as { key: string; created: string; parts: { graphOptions: { attention: string } } })
        .sort((x, y) => x.parts.graphOptions.attention.localeCompare(y.parts.graphOptions.attention));
    const before = entries();
    expect(before.map((e) => e.parts.graphOptions.attention)).toEqual(['fused', 'plain']);
    // Another plain run takes its entry from the cache (nothing rebuilt, the fused entry kept) and gives the same bytes.
    const again = await run('plain', 'again');
    expect(again.code, again.stderr).toBe(0);
    expect(entries()).toEqual(before);
    expect(fs.readFileSync(path.join(dir, 'again.npy'))).toEqual(fs.readFileSync(path.join(dir, 'plain.npy')));
  });

  it('a form that does not exist is refused before loading, naming those that do', async () => {
    const r = await runCli(['sample', '--attention', 'flash', '--out', path.join(tmp(), 'x.png')]);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'dit: --attention "flash" is not supported: must be one of fused, plain\n' });
  });
});

describe('dit sample: user errors give one line and exit code 2, before any work', () => {
  const base = ['sample', '--ckpt', path.join(tiny, 'model.pt'), '--vae', 'none', '--quiet', '--no-cache'];
  it.each([
    [['--num-sampling-steps', '0'], 'dit: --num-sampling-steps "0" is out of range: must be an integer in 1..1000'],
    [['--num-sampling-steps', '-3'], 'dit: --num-sampling-steps "-3" is out of range'],
    [['--num-sampling-steps', '1001'], 'dit: --num-sampling-steps "1001" is out of range'],
    [['--class-labels', '3,10'], 'dit: --class-labels 10 is out of range: must be an integer in 0..9 (this model has 10 classes)'],
    [['--seed', 'abc'], 'dit: --seed "abc" is not a valid seed'],
    [['--cfg-scale', '-1'], 'dit: --cfg-scale "-1" is out of range: must be a number in 0..100'],
    [['--sampler', 'euler'], 'dit: --sampler "euler" is not supported: must be one of ddpm, ddim, dpm-solver++'],
    [['--guidance', 'some'], 'dit: --guidance "some" is not supported: must be one of dit, all, off'],
    [['--device', 'tpu'], 'dit: --device "tpu" is not supported: must be one of cpu, webgpu, cuda'],
    // the same lines as dit decode's and dit bench's
    [['--threads', '0'], 'dit: --threads "0" is out of range: must be an integer in 1..1024'],
    [['--samples-per-row', '0'], 'dit: --samples-per-row "0" is out of range: must be an integer in 1..256'],
    [['--num-sampling-steps', '45', '--spacing', 'ddim'], 'dit: --num-sampling-steps 45 cannot be laid out with --spacing ddim (no integer stride gives exactly that many of 1000 steps); use a count near it that can (42, 44, 46, 48) or --spacing uniform'],
  ])('%j', async (flags, message) => {
    const dir = tmp();
    const r = await runCli([...base, '--save-latents', path.join(dir, 'x.npy'), ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toContain(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it.each([
    [['--cfg-scale', 'abc'], '--cfg-scale "abc" is not a number'],
    [['--num-sampling-steps', '0'], '--num-sampling-steps "0" is out of range'],
    [['--seed', 'abc'], '--seed "abc" is not a valid seed'],
    [['--class-labels', '1,x'], '--class-labels "x" is not a class id'],
  ])('%j fails before the checkpoint is read (no loading phase is printed)', async (flags, message) => {
    const r = await runCli(['sample', '--ckpt', path.join(tiny, 'model.pt'), '--vae', 'none', '--no-cache', '--save-latents', path.join(tmp(), 'x.npy'), ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(message)]);
  });

  it('--device cuda on an install without CUDA fails before the checkpoint is read (no loading phase is printed)', async () => {
    const r = await runCli(['sample', '--ckpt', path.join(tiny, 'model.pt'), '--vae', 'none', '--no-cache', '--save-latents', path.join(tmp(), 'x.npy'), '--device', 'cuda']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^dit: --device cuda is not available here: .*\. Devices that work here: cpu[^;]*; pass one of them to --device$/)]);
  });

  it('a class id the model lacks fails after the checkpoint header is read and before any graph is built', async () => {
    const r = await runCli(['sample', '--ckpt', path.join(tiny, 'model.pt'), '--vae', 'none', '--no-cache', '--save-latents', path.join(tmp(), 'x.npy'), '--class-labels', '3,10']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('loading checkpoint');
    expect(r.stderr).not.toContain('building model');
    expect(r.stderr.trim().split('\n').at(-1)).toContain('--class-labels 10 is out of range: must be an integer in 0..9 (this model has 10 classes)');
  });

  it('a missing checkpoint file', async () => {
    const r = await runCli(['sample', '--ckpt', '/nonexistent/DiT-XL-2-256x256.pt', '--quiet']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'dit: --ckpt /nonexistent/DiT-XL-2-256x256.pt: no such file or folder; check the path\n' });
  });

  it('a folder without weights', async () => {
    const dir = tmp();
    const r = await runCli(['sample', '--ckpt', dir, '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^dit: .*(no weights|no checkpoint|weights file)/i);
  });

  it('a checkpoint that does not fit the requested model names what the file is', async () => {
    const r = await runCli([...base, '--save-latents', path.join(tmp(), 'x.npy'), '--model', 'DiT-XL/2']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^dit: /);
    expect(r.stderr).toContain('DiT-XL/2');
  });

  it('an unwritable output path', async () => {
    const r = await runCli([...base, '--save-latents', '/etc/hostname/x.npy']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'dit: cannot write /etc/hostname/x.npy: /etc/hostname is a file, not a folder; choose another path\n' });
  });

  it('--vae none without --save-latents', async () => {
    const r = await runCli(base);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('dit: --vae none decodes no images: pass --save-latents FILE to keep the latents, or a VAE with --vae ema|mse|PATH\n');
  });
});

describe('dit sample finds official weights in the cache folder', () => {
  it('--model DiT-XL/2 without the download says which command fetches it', async () => {
    const cacheDir = tmp();
    const r = await runCli(['sample', '--model', 'DiT-XL/2', '--image-size', '256', '--cache-dir', cacheDir, '--quiet']);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: `dit: the official DiT-XL/2 256×256 weights are not in the cache (${path.join(cacheDir, 'models', 'DiT-XL-2-256x256.pt')}); run \`dit download DiT-XL-2-256\` or pass --ckpt\n`,
    });
  });

  it('--vae mse without the download names the folder and the files to place there', async () => {
    const cacheDir = tmp();
    const r = await runCli(['sample', '--ckpt', path.join(tiny, 'model.pt'), '--vae', 'mse', '--cache-dir', cacheDir, '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `dit: --vae mse: the folder ${path.join(cacheDir, 'vae', 'sd-vae-ft-mse')} does not hold the VAE. Run \`dit download vae-mse\`, or place config.json and diffusion_pytorch_model.safetensors from https://huggingface.co/stabilityai/sd-vae-ft-mse there; or pass --vae none to save latents only\n`,
    );
  });

  it('--vae ema decodes with the VAE placed in the cache folder', async () => {
    const cacheDir = tmp();
    const vaeDir = path.join(cacheDir, 'vae', 'sd-vae-ft-ema');
    fs.mkdirSync(vaeDir, { recursive: true });
    for (const f of ['config.json', 'diffusion_pytorch_model.safetensors']) {
      fs.copyFileSync(path.resolve(tiny, '../vae-tiny', f), path.join(vaeDir, f));
    }
    const out = path.join(tmp(), 'grid.png');
    const r = await runCli([
      'sample', '--ckpt', path.join(tiny, 'model.pt'), '--vae', 'ema', '--cache-dir', cacheDir,
      '--class-labels', '1,2,3', '--num-sampling-steps', '4', '--out', out, '--quiet',
    ]);
    expect(r).toEqual({ code: 0, stdout: `${out}\n`, stderr: '' });
    // The tiny VAE upsamples ×2: 8×8 latents → 16×16 images, three in a row with 2-pixel borders.
    const png = decodePng(fs.readFileSync(out));
    expect([png.width, png.height]).toEqual([3 * 18 + 2, 18 + 2]);
  });
});

describe('dit sample: an image size the model cannot tokenise', () => {
  it('says which multiple is needed and what the file is', async () => {
    const r = await runCli(['sample', '--ckpt', path.join(tiny, 'model.pt'), '--image-size', '60', '--vae', 'none', '--save-latents', path.join(tmp(), 'x.npy'), '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--image-size 60 cannot be cut into this model\'s tokens: it must be a multiple of 16 (latent = image / 8, patch 2)');
    expect(r.stderr).toContain('pass --image-size 64');
  });
});

describe('dit sample: nonsense is refused in one line, exit 2, before the checkpoint is read and nothing is written', () => {
  it.each([
    [['--cfg-scale', 'abc'], 'dit: --cfg-scale "abc" is not a number: must be a number in 0..100 (1 = no guidance; the notebook slider spans 1..10)'],
    [['--cfg-scale', '1e9'], 'dit: --cfg-scale "1e9" is out of range: must be a number in 0..100'],
    [['--eta', '0.5'], 'dit: --eta 0.5 has no effect with --sampler ddpm: only ddim uses eta; pass --sampler ddim or leave --eta out'],
    [['--eta', '0.5', '--sampler', 'dpm-solver++'], 'dit: --eta 0.5 has no effect with --sampler dpm-solver++'],
    [['--cfg-scale', '4', '--guidance', 'off'], 'dit: --cfg-scale 4 has no effect with --guidance off (no guidance is applied); leave one of them out'],
    [['--class-labels', '1,,2'], 'dit: --class-labels "1,,2" has an empty item (number 2)'],
    [['--class-labels', 'sneaker'], 'dit: --class-labels "sneaker" is not a class id: --class-labels takes ids (numbers); pass names with --classes, e.g. --classes "sneaker"'],
    [['--seed', '-9223372036854775809'], 'dit: --seed -9223372036854775809 is out of range: must be an integer in -9223372036854775808..18446744073709551615'],
  ])('%j', async (flags, message) => {
    const dir = tmp();
    const r = await runCli(['sample', '--ckpt', path.join(tiny, 'model.pt'), '--vae', 'none', '--no-cache', '--save-latents', path.join(dir, 'x.npy'), ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(message)]);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('an unknown class name suggests the nearest (plural → singular) after the header is read, before any graph is built', async () => {
    const r = await runCli(['sample', '--classes', 'sneakers', '--out', path.join(tmp(), 'x.png')]);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('building model');
    expect(r.stderr.trim().split('\n').at(-1)).toBe('dit: unknown class name "sneakers" for Fashion-MNIST; did you mean "Sneaker" (7)?');
  });

  it('the embedded model points at its own table when nothing is near', async () => {
    const r = await runCli(['sample', '--classes', 'zebra', '--out', path.join(tmp(), 'x.png'), '--quiet']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'dit: unknown class name "zebra" for Fashion-MNIST; run `dit classes fashion-mnist` to list the 10 Fashion-MNIST classes\n' });
  });

  it.each([
    [['--out', 'out.jpg'], 'dit: cannot write out.jpg: the file is written as PNG, so its name must end in .png, e.g. out.png\n'],
    [['--out', 'grid'], 'dit: cannot write grid: the file is written as PNG, so its name must end in .png, e.g. grid.png\n'],
  ])('%j: the grid is a PNG, so the name must say so', async (flags, stderr) => {
    expect(await runCli(['sample', '--quiet', ...flags])).toEqual({ code: 2, stdout: '', stderr });
  });

  it('--save-latents naming a folder suggests a file in it', async () => {
    const dir = tmp();
    expect(await runCli(['sample', '--quiet', '--vae', 'none', '--ckpt', path.join(tiny, 'model.pt'), '--save-latents', dir])).toEqual({
      code: 2,
      stdout: '',
      stderr: `dit: cannot write ${dir}: it is a folder; give a file path such as ${path.join(dir, 'latents.npy')}\n`,
    });
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('dit sample --seed takes torch.manual_seed\'s range', () => {
  it('-1 samples exactly what 2^64 - 1 samples (PyTorch reads a negative seed as its two\'s complement)', async () => {
    const run = async (seed: string) => {
      const out = path.join(tmp(), 'x.npy');
      const r = await runCli(['sample', '--ckpt', path.join(tiny, 'model.pt'), '--class-labels', '3', '--num-sampling-steps', '2', '--vae', 'none', '--save-latents', out, '--quiet', '--no-cache', '--seed', seed]);
      expect(r.code).toBe(0);
      return readNpy(out).data as Float32Array;
    };
    const minusOne = await run('-1');
    expect(minusOne).toEqual(await run('18446744073709551615'));
    expect(minusOne).not.toEqual(await run('0'));
  });
});

describe('dit sample --help', () => {
  it('states every generate default, including the ones that depend on the model', async () => {
    const r = await runCli(['sample', '--help']);
    expect(r.code).toBe(0);
    const help = r.stdout.replace(/\s+/g, ' ');
    for (const text of [
      'classifier-free guidance scale (default 4;',
      'sampling steps, 1..1000 (default 250; the embedded model: 25)',
      'timesteps in [lo, hi] (DiT: 0..999, default every step, the embedded model: 82,579;',
      'ddpm | ddim | dpm-solver++ | sit-ode-dopri5 | sit-ode-euler | sit-ode-heun | sit-sde-euler | sit-sde-heun | repa-sde | repa-ode-euler | repa-ode-heun (the family\'s: DiT ddpm, SiT sit-ode-dopri5, REPA repa-sde by default)',
      'dit | all | off (default: dit for 4-channel latent models',
      'uniform ("N", the default)',
      'DDIM eta (default 0',
      'grid columns (default 4)',
      'random seed (torch.manual_seed), default 0',
    ]) {
      expect(help).toContain(text);
    }
  });
});
