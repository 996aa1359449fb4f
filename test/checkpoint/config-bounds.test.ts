/**
 * config.json values that would crash the graph builder later (issue 14, item 2) are refused where
 * the file is read, so `dit inspect` reports the same problem `dit sample` stops on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectDiTCheckpoint, loadDiTCheckpoint, loadVaeCheckpoint, readSafetensors } from '../../src/checkpoint/index.js';
import { UsageError } from '../../src/errors.js';
import { writeSafetensors } from '../helpers/checkpoint-writers.js';
import { runCli } from '../helpers/run-cli.js';
import { ditParameterShapes } from '../../src/models/dit-shapes.js';
import { ditTiny, tempDir, vaeTiny } from '../helpers/fixtures.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const ditConfig = JSON.parse(fs.readFileSync(ditTiny('config.json'), 'utf8')) as Record<string, unknown>;

/** dit-tiny's weights (without pos_embed when asked) with its config.json changed by `patch`. */
function ditWith(patch: Record<string, unknown>, opts: { dropPosEmbed?: boolean } = {}): string {
  const dir = tempDir();
  dirs.push(dir);
  const weights = path.join(dir, 'model.safetensors');
  if (opts.dropPosEmbed) {
    const st = readSafetensors(ditTiny('model.safetensors'));
    const entries = [...st.tensors].filter(([k]) => k !== 'pos_embed').map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, data: t.toFloat32() }));
    st.close();
    writeSafetensors(weights, entries);
  } else fs.copyFileSync(ditTiny('model.safetensors'), weights);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...ditConfig, ...patch }));
  return dir;
}

/** The problem must be among inspect's problems and in the one error load throws. */
function expectRefused(dir: string, problem: RegExp): void {
  expect(inspectDiTCheckpoint(dir).problems.join('\n')).toMatch(problem);
  expect(() => loadDiTCheckpoint(dir)).toThrow(UsageError);
  expect(() => loadDiTCheckpoint(dir)).toThrow(problem);
}

describe('DiT config.json bounds', () => {
  it('num_heads -2', () => expectRefused(ditWith({ num_heads: -2 }), /config\.json says num_heads -2, which is not an integer from 1 to 1024/));
  it('num_heads 0.5', () => expectRefused(ditWith({ num_heads: 0.5 }), /says num_heads 0\.5, which is not an integer from 1 to 1024/));
  it('input_size 200000 for weights without pos_embed (a 80-billion-value table)', () => {
    expectRefused(ditWith({ input_size: 200000 }, { dropPosEmbed: true }), /says input_size 200000, which is not an integer from 1 to 4096/);
  });
  it('input_size 4096 without pos_embed: within the bound, but over the token limit', () => {
    expectRefused(ditWith({ input_size: 4096 }, { dropPosEmbed: true }), /input_size 4096 with patch 2 makes 4194304 tokens, over the 65536/);
  });
  it('input_size 9 without pos_embed: not a multiple of the patch (the graph builder only asserts it)', () => {
    expectRefused(ditWith({ input_size: 9 }, { dropPosEmbed: true }), /input_size 9 \(latent or pixel cells\) is not a multiple of patch_size 2/);
  });
  it('a hidden size that is no multiple of 4 (no 2-D sin-cos table), in the loader and in `dit inspect`', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const c = { input_size: 4, patch_size: 2, in_channels: 4, hidden_size: 6, depth: 1, num_heads: 2, mlp_ratio: 4, class_dropout_prob: 0.1, num_classes: 2, learn_sigma: false };
    writeSafetensors(path.join(dir, 'model.safetensors'), [...ditParameterShapes(c)].map(([name, shape]) => ({ name, dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) })));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(c));
    const problem = /x_embedder\.proj\.weight gives hidden size 6, which is not a multiple of 4/;
    expectRefused(dir, problem);
    const r = await runCli(['inspect', dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(problem);
    expect(r.stderr).toBe(`dit: ${path.join(dir, 'model.safetensors')}: 1 problem (listed above)\n`);
  });
  it('mlp_ratio 0 and class_dropout_prob 1', () => {
    const p = inspectDiTCheckpoint(ditWith({ mlp_ratio: 0, class_dropout_prob: 1 })).problems.join('\n');
    expect(p).toMatch(/says mlp_ratio 0, which is not a number above 0 and at most 64/);
    expect(p).toMatch(/says class_dropout_prob 1, which is not a probability from 0 to below 1/);
  });
  it('the unchanged config still loads (input_size 8 without pos_embed builds the table)', () => {
    const ck = loadDiTCheckpoint(ditWith({}, { dropPosEmbed: true }));
    expect(ck.config.num_heads).toBe(4);
    expect(ck.weights.tensors.get('pos_embed')?.shape).toEqual([1, 16, 64]);
    ck.weights.close();
  });
});

describe('VAE config.json bounds', () => {
  const vaeConfig = JSON.parse(fs.readFileSync(vaeTiny('config.json'), 'utf8')) as Record<string, unknown>;
  const vaeWith = (patch: Record<string, unknown>): string => {
    const dir = tempDir();
    dirs.push(dir);
    fs.copyFileSync(vaeTiny('diffusion_pytorch_model.safetensors'), path.join(dir, 'diffusion_pytorch_model.safetensors'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...vaeConfig, ...patch }));
    return dir;
  };
  it('norm_num_groups -4', () => {
    expect(() => loadVaeCheckpoint(vaeWith({ norm_num_groups: -4 }))).toThrow(/config\.json says norm_num_groups -4, which is not an integer from 1 to 8192/);
  });
  it('scaling_factor 0 and block_out_channels with a string', () => {
    let msg = '';
    try {
      loadVaeCheckpoint(vaeWith({ scaling_factor: 0, block_out_channels: [32, '64'] }));
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/says scaling_factor 0, which is not a positive number/);
    expect(msg).toMatch(/says block_out_channels \[32,"64"\], which is not a list of 1 to 8 integers from 1 to 8192/);
  });
  it('a level whose channels cannot be read from the weights', () => {
    const dir = vaeWith({});
    const file = path.join(dir, 'diffusion_pytorch_model.safetensors');
    const st = readSafetensors(file);
    const entries = [...st.tensors].filter(([k]) => !/up_blocks\.1\.resnets\.0\.conv1\.weight$/.test(k)).map(([name, t]) => ({ name, dtype: 'F32' as const, shape: t.shape, data: t.toFloat32() }));
    st.close();
    writeSafetensors(file, entries);
    expect(() => loadVaeCheckpoint(dir)).toThrow(UsageError);
    expect(() => loadVaeCheckpoint(dir)).toThrow(/decoder\.up_blocks\.\{1\}\.resnets\.0\.conv1\.weight give no channels/);
  });
  it('the unchanged config still loads', () => {
    const v = loadVaeCheckpoint(vaeWith({}));
    expect(v.config.norm_num_groups).toBe(8);
    v.weights.close();
  });
});
