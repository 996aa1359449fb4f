/**
 * The suite never touches the user's dit-ts cache: test/setup/temp-cache.ts points DIT_CACHE_DIR at a temporary folder for the whole run; at the end it compares the user's
 * cache folder with its state at the start.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCacheDir } from '../src/model-files.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const inside = (dir: string, parent: string) => !path.relative(parent, dir).startsWith('..');

describe('the test run’s cache folder', () => {
  it('is a temporary folder, not the user’s', () => {
    const dir = defaultCacheDir();
    expect(process.env.DIT_CACHE_DIR).toBe(dir);
    expect(inside(dir, fs.realpathSync(os.tmpdir())) || inside(dir, os.tmpdir())).toBe(true);
    expect(process.env.DIT_TEST_USER_CACHE).toBeDefined();
    expect(inside(dir, process.env.DIT_TEST_USER_CACHE!)).toBe(false);
  });

  it('is the one a CLI started by a test builds into, with no --cache-dir', async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dit-cache-cli-')), 'x.png');
    const compiled = path.join(defaultCacheDir(), 'compiled');
    const entries = () => (fs.existsSync(compiled) ? fs.readdirSync(compiled).filter((n) => n.startsWith('dit-')) : []);
    const before = entries();
    const code = await new Promise<number>((resolve) => {
      execFile(process.execPath, [path.join(repoRoot, 'bin/dit.js'), 'sample', '--num-images', '1', '--num-sampling-steps', '1', '--quiet', '--out', out], { cwd: repoRoot }, (err) =>
        resolve(err ? Number(err.code ?? 1) : 0),
      );
    });
    expect(code).toBe(0);
    expect(fs.existsSync(out)).toBe(true);
    // The embedded model's compiled graph is there, unless an earlier test file built it already.
    expect(entries().length).toBeGreaterThanOrEqual(Math.max(1, before.length));
  });
});
