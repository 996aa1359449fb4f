/**
 * NaN and ±Inf weights (issue 14, item 8): loading refuses when the weight is read (it would sample
 * to an all-NaN image with exit 0), and `dit inspect` warns, naming the tensor.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDiTCheckpoint, loadVaeCheckpoint, readSafetensors } from '../../src/checkpoint/index.js';
import { FormatError } from '../../src/errors.js';
import { writeSafetensors } from '../helpers/checkpoint-writers.js';
import { runCli } from '../helpers/run-cli.js';
import { ditTiny, tempDir, vaeTiny } from '../helpers/fixtures.js';

const dir = tempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A copy of `src` whose tensor `name` has `values` written at its first indices. */
function damaged(src: string, out: string, name: string, values: number[]): string {
  const st = readSafetensors(src);
  const entries = [...st.tensors].map(([n, t]) => {
    const data = t.toFloat32();
    if (n === name) data.set(values, 0);
    return { name: n, dtype: 'F32' as const, shape: t.shape, data };
  });
  st.close();
  fs.mkdirSync(path.dirname(out), { recursive: true });
  writeSafetensors(out, entries);
  return out;
}

describe('NaN/Inf weights', () => {
  const dit = damaged(ditTiny('model.safetensors'), path.join(dir, 'dit', 'model.safetensors'), 'final_layer.linear.weight', [1, Number.NaN, Number.POSITIVE_INFINITY]);
  fs.copyFileSync(ditTiny('config.json'), path.join(dir, 'dit', 'config.json'));

  it('loading a DiT refuses when the damaged weight is read, naming it', () => {
    const ck = loadDiTCheckpoint(dit);
    try {
      expect(() => ck.weights.tensors.get('final_layer.linear.weight')!.toFloat32()).toThrow(FormatError);
      expect(() => ck.weights.tensors.get('final_layer.linear.weight')!.toFloat32()).toThrow(/tensor "final_layer\.linear\.weight" holds 2 NaN or infinite values \(the first at index 1, NaN\)/);
      expect(ck.weights.tensors.get('x_embedder.proj.weight')!.toFloat32().length).toBeGreaterThan(0);
    } finally {
      ck.weights.close();
    }
  });

  it('dit inspect warns (exit 0: the file is readable) and --json lists it', async () => {
    const r = await runCli(['inspect', dit]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/warning: +.*tensor "final_layer\.linear\.weight" holds 2 NaN or infinite values/);
    const j = await runCli(['inspect', '--json', dit]);
    expect((JSON.parse(j.stdout) as { warnings: string[] }).warnings.join('\n')).toMatch(/final_layer\.linear\.weight" holds 2 NaN/);
  });

  it('the intact fixture gives no such warning', async () => {
    const r = await runCli(['inspect', ditTiny('model.safetensors')]);
    expect(r.stdout).not.toMatch(/NaN/);
  });

  it('a VAE with an infinite weight is refused when it is read', () => {
    const vdir = path.join(dir, 'vae');
    damaged(vaeTiny('diffusion_pytorch_model.safetensors'), path.join(vdir, 'diffusion_pytorch_model.safetensors'), 'decoder.conv_out.weight', [Number.NEGATIVE_INFINITY]);
    fs.copyFileSync(vaeTiny('config.json'), path.join(vdir, 'config.json'));
    const v = loadVaeCheckpoint(vdir);
    try {
      expect(() => v.weights.tensors.get('decoder.conv_out.weight')!.toFloat32()).toThrow(/"decoder\.conv_out\.weight" holds 1 NaN or infinite value \(the first at index 0, -Infinity\)/);
    } finally {
      v.weights.close();
    }
  });
});
