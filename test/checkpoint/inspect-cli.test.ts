import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { writeSafetensors } from '../helpers/checkpoint-writers.js';
import { ditTiny, tempDir, vaeTiny } from '../helpers/fixtures.js';

describe('dit inspect', () => {
  it('--json prints one object with format, layout, dtypes, parameters, config', async () => {
    const r = await runCli(['inspect', '--json', ditTiny('ddp.pt')]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toMatchObject({
      kind: 'dit',
      format: 'pytorch-zip',
      layout: 'ddp',
      dtypes: ['F32'],
      parameterCount: 183200,
      variant: null,
      imageSize: 64,
      problems: [],
      config: { input_size: 8, patch_size: 2, in_channels: 4, hidden_size: 64, depth: 2, num_heads: 4, mlp_ratio: 4, class_dropout_prob: 0.1, num_classes: 10, learn_sigma: true },
    });
  });

  it('text output names the training-checkpoint container; a mismatch exits 1 with the fix', async () => {
    const ok = await runCli(['inspect', ditTiny('train-checkpoint.pt')]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('format:       pytorch-zip (training checkpoint, "ema" weights)\n');
    expect(ok.stdout).toContain('parameters:   183,200\n');
    expect(ok.stdout).toContain('problems:     none\n');
    const bad = await runCli(['inspect', ditTiny('model.safetensors'), '--image-size', '256']);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/pass --image-size 64\n$/);
    expect(bad.stderr).toBe(`dit: ${ditTiny('model.safetensors')}: 1 problem (listed above)\n`);
  });

  it('recognises a VAE folder', async () => {
    const r = await runCli(['inspect', '--json', path.dirname(vaeTiny('config.json'))]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ kind: 'vae', layout: 'diffusers-old-attention', parameterCount: 658375, config: { block_out_channels: [32, 64], norm_num_groups: 8 } });
  });

  it('an unreadable file is one error line, exit 2', async () => {
    const r = await runCli(['inspect', ditTiny('config.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^dit: .*config\.json is a text file \(HTML or JSON.*supported: \.safetensors, PyTorch checkpoints from torch\.save/);
  });
});

describe('dit inspect with hostile tensor names', () => {
  it('control characters in names are printed as escapes, never raw (an ESC sequence could clear the screen)', async () => {
    const dir = tempDir();
    const f = path.join(dir, 'names.safetensors');
    writeSafetensors(f, [{ name: '\u001b[2J\u001b[Hfake\rline', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    const r = await runCli(['inspect', f]);
    fs.rmSync(dir, { recursive: true, force: true });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(/[\u001b\r]/);
    expect(r.stdout).toContain('its keys start with: \\x1b[2J\\x1b[Hfake\\x0dline');
  });
});
