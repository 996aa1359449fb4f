/**
 * Vitest global setup: the whole run (test files, and the CLIs and workers they start, which
 * inherit the environment) uses a temporary dit-ts cache, never the user's ~/.cache/dit-ts.
 *
 * DIT_CACHE_DIR points at a fresh temporary folder (model-files.ts's defaultCacheDir() reads it
 * before XDG_CACHE_HOME and ~/.cache). XDG_CACHE_HOME is left alone: Mesa keeps lavapipe's compiled
 * shaders there, and a cold shader cache makes every WebGPU test compile them again. At the end the user's cache folder is compared with a listing taken at the start: a file
 * or folder that appeared or changed there is reported, and fails the run when
 * DIT_STRICT_USER_CACHE=1 (.ci/run sets it: nothing else runs beside CI, while on a shared
 * development machine another process may write to that cache at the same time).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Every path under `dir` (two levels: entries and their files) with its size and mtime. */
function listing(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, depth: number) => {
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      out.set(p, `${st.size}:${st.mtimeMs}`);
      if (st.isDirectory() && depth < 3) walk(p, depth + 1);
    }
  };
  walk(dir, 0);
  return out;
}

export default function setup(): () => void {
  const userCache = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'dit-ts');
  const before = listing(userCache);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-test-cache-'));
  process.env.DIT_CACHE_DIR = path.join(root, 'dit-ts');
  process.env.DIT_TEST_USER_CACHE = userCache;
  return () => {
    fs.rmSync(root, { recursive: true, force: true });
    const after = listing(userCache);
    const changed = [...after].filter(([p, v]) => before.get(p) !== v).map(([p]) => p);
    if (changed.length === 0) return;
    const message = `the test run wrote to the user's cache ${userCache}: ${changed.slice(0, 5).join(', ')}${changed.length > 5 ? ` and ${changed.length - 5} more` : ''}`;
    if (process.env.DIT_STRICT_USER_CACHE === '1') throw new Error(message);
    process.stderr.write(`warning: ${message} (or another process did at the same time; DIT_STRICT_USER_CACHE=1 makes this an error)\n`);
  };
}
