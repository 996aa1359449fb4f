/**
 * bench/generate-fd.ts names each row by the guidance its images were made with. On the embedded
 * model the sampler's default is guidance on an interval, so a run without --guidance-interval is
 * an interval run: its folder, header and JSON must say so (they used to say "every step", and the
 * record's command for its every-step rows, run on the embedded model, made interval images).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMBEDDED_DEFAULTS } from '../src/pipeline.js';
import { repoRoot, tempDir } from './helpers/fixtures.js';

const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');

/** One tiny run (2 images, 2 steps, CFG 4): the JSON line it wrote and its stdout. */
function run(out: string, extra: readonly string[]): { json: { guidanceInterval: string | null }; stdout: string } {
  const jsonFile = `${out}.json`;
  const stdout = execFileSync(tsx, ['bench/generate-fd.ts', '--cfg', '4', '--num-samples', '2', '--steps', '2', '--out', out, '--json', jsonFile, ...extra], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { json: JSON.parse(fs.readFileSync(jsonFile, 'utf8')), stdout };
}

/** The guidance interval a bulk folder's images were made with (its generate.json). */
function folderInterval(dir: string): unknown {
  return (JSON.parse(fs.readFileSync(path.join(dir, 'generate.json'), 'utf8')) as { sampling: { guidanceInterval: unknown } }).sampling.guidanceInterval;
}

describe('bench/generate-fd.ts reports the guidance it sampled with', () => {
  it('the embedded default interval when no flag is given; every step with --guidance-interval 0,999', () => {
    const root = tempDir();
    try {
      const [lo, hi] = EMBEDDED_DEFAULTS.guidanceInterval;
      const byDefault = run(path.join(root, 'default'), []);
      expect(byDefault.json.guidanceInterval).toBe(`${lo},${hi}`);
      expect(byDefault.stdout).toContain(`guidance only for timesteps in [${lo},${hi}]`);
      expect(folderInterval(path.join(root, 'default', `cfg-4-interval-${lo}-${hi}`))).toEqual([lo, hi]);
      expect(fs.existsSync(path.join(root, 'default', 'cfg-4'))).toBe(false);

      const every = run(path.join(root, 'every'), ['--guidance-interval', '0,999']);
      expect(every.json.guidanceInterval).toBeNull();
      expect(every.stdout).toContain('guidance at every step');
      expect(folderInterval(path.join(root, 'every', 'cfg-4'))).toEqual([0, 999]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
