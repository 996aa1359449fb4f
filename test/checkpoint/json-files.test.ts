/**
 * config.json and friends are read as small regular files only: a pipe would block the reader,
 * /dev/zero never ends, and a UTF-8 byte-order mark (as some editors write) is accepted.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDiTCheckpoint, loadVaeCheckpoint } from '../../src/checkpoint/index.js';
import { ditTiny, tempDir, vaeTiny } from '../helpers/fixtures.js';

/** A copy of dit-tiny's weights with config.json made by `makeConfig(path)`. */
function ditWithConfig(makeConfig: (file: string) => void): string {
  const dir = tempDir();
  fs.copyFileSync(ditTiny('model.safetensors'), path.join(dir, 'model.safetensors'));
  makeConfig(path.join(dir, 'config.json'));
  return dir;
}

describe('JSON config files', () => {
  it('a config.json that is a named pipe is refused at once, not waited on', () => {
    const dir = ditWithConfig((file) => execFileSync('mkfifo', [file]));
    const t0 = performance.now();
    expect(() => loadDiTCheckpoint(dir)).toThrow(/config .+config\.json cannot be read: it is not a regular file \(a pipe\)/);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('a config.json linked to /dev/zero is refused without reading it', () => {
    const dir = ditWithConfig((file) => fs.symlinkSync('/dev/zero', file));
    expect(() => loadDiTCheckpoint(dir)).toThrow(/cannot be read: it is not a regular file \(a device or socket\)/);
  });

  it('a config.json over 1 MiB is refused by its size', () => {
    const dir = ditWithConfig((file) => fs.writeFileSync(file, `{"pad": "${'x'.repeat(2 << 20)}"}`));
    expect(() => loadDiTCheckpoint(dir)).toThrow(/cannot be read: it is \d+ bytes; a JSON config is at most 1048576/);
  });

  it('a config.json with a UTF-8 byte-order mark loads as without it', () => {
    const text = fs.readFileSync(ditTiny('config.json'), 'utf8');
    const plain = loadDiTCheckpoint(ditWithConfig((file) => fs.writeFileSync(file, text)));
    const bom = loadDiTCheckpoint(ditWithConfig((file) => fs.writeFileSync(file, `\uFEFF${text}`)));
    expect(bom.config).toEqual(plain.config);
    plain.weights.close();
    bom.weights.close();
  });

  it('a VAE config.json holding null says so in one line', () => {
    const dir = tempDir();
    fs.copyFileSync(vaeTiny('diffusion_pytorch_model.safetensors'), path.join(dir, 'diffusion_pytorch_model.safetensors'));
    fs.writeFileSync(path.join(dir, 'config.json'), 'null');
    expect(() => loadVaeCheckpoint(dir)).toThrow(/^VAE config .+ cannot be read: it holds null, not a JSON object; expected a diffusers AutoencoderKL config.json$/);
  });
});
