/**
 * The repository stands on its own: nothing it tracks points outside it, the fixtures the tests
 * read are tracked files, and a missing fixture fails with a message that says how to get it back.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { committedFixturesDir, repoRoot, resolveFixture, tempDir } from './helpers/fixtures.js';

function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' }).split('\0').filter(Boolean);
}

describe('the repository stands on its own', () => {
  it('no tracked file refers to a folder beside the repository', () => {
    // Spelled in pieces so this file does not match itself.
    const sibling = ['..', 'shared'].join('/');
    const offenders = trackedFiles().filter((f) => {
      const full = path.join(repoRoot, f);
      if (!fs.existsSync(full) || !fs.statSync(full).isFile()) return false;
      const bytes = fs.readFileSync(full);
      if (bytes.includes(0)) return false; // binary: weights, arrays, images
      return bytes.toString('utf8').includes(sibling);
    });
    expect(offenders).toEqual([]);
  });

  it('every file in test/fixtures is tracked, and every file a manifest names is there', () => {
    const tracked = new Set(trackedFiles());
    const onDisk: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) walk(full);
        else onDisk.push(path.relative(repoRoot, full).split(path.sep).join('/'));
      }
    };
    walk(committedFixturesDir);
    expect(onDisk.length).toBeGreaterThan(30);
    expect(onDisk.filter((f) => !tracked.has(f))).toEqual([]);

    const named: string[] = [];
    const collect = (set: string, v: unknown): void => {
      if (typeof v === 'string' && /\.(npy|pt|safetensors|json)$/.test(v)) named.push(`test/fixtures/${set}/${v}`);
      else if (Array.isArray(v)) v.forEach((x) => collect(set, x));
      else if (v && typeof v === 'object') Object.values(v).forEach((x) => collect(set, x));
    };
    for (const set of fs.readdirSync(committedFixturesDir)) {
      const manifest = path.join(committedFixturesDir, set, 'manifest.json');
      if (fs.existsSync(manifest)) collect(set, JSON.parse(fs.readFileSync(manifest, 'utf8')));
    }
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((f) => !tracked.has(f))).toEqual([]);
  });

  it('a missing fixture names the file and how to get it back', () => {
    const empty = tempDir();
    expect(() => resolveFixture(empty, false, 'dit-tiny', 'model.pt')).toThrow(
      `missing fixture file dit-tiny/model.pt (looked for ${path.join(empty, 'dit-tiny', 'model.pt')}); the fixtures are tracked files of the repository: restore them with \`git checkout -- test/fixtures\`, or rebuild them with scripts/fixtures/generate.py (see test/fixtures/README.md)`,
    );
    expect(() => resolveFixture(empty, true, 'rng')).toThrow(
      `missing fixture folder rng/ (looked for ${path.join(empty, 'rng')}); DIT_FIXTURES_DIR=${empty} names a set without it`,
    );
    expect(resolveFixture(committedFixturesDir, false, 'vae-tiny', 'config.json')).toBe(path.join(committedFixturesDir, 'vae-tiny', 'config.json'));
    fs.rmSync(empty, { recursive: true, force: true });
  });
});
