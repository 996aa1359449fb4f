/** `dit sweep` on the command line: a bad value in any cell fails before the model is read; a folder resumes only with its model, precision and weights. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { ditTiny, fixtureDir } from '../helpers/fixtures.js';
import { EMBEDDED_MODEL_DIR } from '../../src/assets.js';

describe('dit sweep: flag errors before loading', () => {
  it.each([
    [['--num-sampling-steps', '10,2000'], '--num-sampling-steps "2000" is out of range: must be an integer in 1..1000'],
    [['--sampler', 'ddpm,euler'], '--sampler "euler" is not supported: must be one of ddpm, ddim, dpm-solver++'],
    [['--cfg-scale', '1,abc'], '--cfg-scale "abc" is not a number'],
    // eta read by no cell (the sweep's sampler is ddpm unless told otherwise)
    [['--eta', '0.5', '--cfg-scale', '1,4'], '--eta 0.5 has no effect with --sampler ddpm: only ddim uses eta'],
    [['--guidance', 'off', '--cfg-scale', '2,4'], '--cfg-scale 2 has no effect with --guidance off'],
  ])('%j: one line, exit 2, no loading phase, no output folder', async (flags, message) => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dit-sweep-cli-')), 'study');
    const r = await runCli(['sweep', '--ckpt', ditTiny('model.pt'), '--vae', 'none', '--no-cache', '--out', out, ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(message)]);
    expect(fs.existsSync(out)).toBe(false);
  });
});

describe('dit sweep: a value some cells use is not refused', () => {
  it('--eta with --sampler ddpm,ddim passes the flag checks (the ddim cells read it)', async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dit-sweep-cli-')), 'study');
    const r = await runCli(['sweep', '--ckpt', '/nonexistent/model.pt', '--quiet', '--out', out, '--eta', '0.5', '--sampler', 'ddpm,ddim']);
    // It gets as far as reading the checkpoint.
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'dit: --ckpt /nonexistent/model.pt: no such file or folder; check the path\n' });
  });
});

describe('dit sweep --help', () => {
  it('says the default image set on the embedded model', async () => {
    const r = await runCli(['sweep', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\s+/g, ' ')).toContain(
      'On the embedded model without --class-labels, --classes or --num-images, each cell samples 40 images: each of the 10 Fashion-MNIST classes ×4, one class per column',
    );
  });
});

describe('dit sweep on a SiT checkpoint', () => {
  it("compares cells with SiT's default sampler when no --sampler is given (no DiT default forced on it)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-sweep-cli-'));
    const out = path.join(dir, 'study');
    const vae = path.join(dir, 'vae');
    fs.mkdirSync(vae);
    for (const f of ['config.json', 'diffusion_pytorch_model.safetensors']) fs.copyFileSync(path.join(fixtureDir('vae-tiny'), f), path.join(vae, f));
    const r = await runCli(['sweep', '--ckpt', fixtureDir('sit-tiny'), '--vae', vae, '--no-cache', '--quiet', '--out', out, '--class-labels', '1', '--num-sampling-steps', '2,3']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(fs.readdirSync(out).length).toBeGreaterThan(0);
  });
});

describe('dit sweep: resuming', () => {
  it('resumes a folder only in the precision it was started in (a q8 run once resumed an fp32 sweep, mixing the two)', async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dit-sweep-cli-')), 'study');
    const flags = ['sweep', '--quiet', '--no-cache', '--out', out, '--class-labels', '1', '--cfg-scale', '1,4', '--num-sampling-steps', '2'];
    expect(await runCli(flags)).toMatchObject({ code: 0, stderr: '' });
    const q8 = await runCli([...flags, '--dtype', 'q8']);
    expect(q8.code).toBe(2);
    expect(q8.stderr).toMatch(/^dit: --out .+ holds a different sweep \(its cells come from .+; --device cpu --dtype fp32 --attention fused, this run is .+; --device cpu --dtype q8 --attention fused\); resume it with the same flags/);
    expect(await runCli(flags)).toMatchObject({ code: 0, stderr: '' }); // the same flags resume it
  });

  it('resumes a folder only with the weights it was started with (a retrain of the same shapes and size is another model)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-sweep-cli-'));
    const bytes = fs.readFileSync(path.join(EMBEDDED_MODEL_DIR, 'model.safetensors'));
    const other = Buffer.from(bytes);
    other[other.length - 2]! ^= 1;
    const [a, b] = [bytes, other].map((weights, i) => {
      const ckpt = path.join(dir, `weights-${i}`);
      fs.mkdirSync(ckpt);
      fs.copyFileSync(path.join(EMBEDDED_MODEL_DIR, 'config.json'), path.join(ckpt, 'config.json'));
      fs.writeFileSync(path.join(ckpt, 'model.safetensors'), weights);
      return ckpt;
    });
    const sha = (w: Buffer) => crypto.createHash('sha256').update(w).digest('hex');
    const flags = ['sweep', '--quiet', '--no-cache', '--out', path.join(dir, 'study'), '--class-labels', '1', '--cfg-scale', '1,4', '--num-sampling-steps', '2'];
    expect(await runCli([...flags, '--ckpt', a!])).toMatchObject({ code: 0, stderr: '' });
    const r = await runCli([...flags, '--ckpt', b!]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`weights model.safetensors (${bytes.length} bytes, sha256 ${sha(bytes)}); --device cpu --dtype fp32 --attention fused, this run is `);
    expect(r.stderr).toContain(`weights model.safetensors (${bytes.length} bytes, sha256 ${sha(other)}); --device cpu --dtype fp32 --attention fused)`);
    expect(await runCli([...flags, '--ckpt', a!])).toMatchObject({ code: 0, stderr: '' });
  });
});
