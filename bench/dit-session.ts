/**
 * Session creation through the compiled-model cache, as a sampling process sees it: the first run
 * builds and writes the model (random DiT weights standing in for a checkpoint), the second comes
 * from the cache. Each phase runs in its own process, so peak RSS is that of a process that opens
 * the model and runs one forward. Prints a table, then one JSON line.
 *
 *   npx tsx bench/dit-session.ts [--model DiT-XL/2] [--image-size 256] [--batch 2] [--threads 2]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ditConfigFor, type DiTVariantName } from '../src/models/dit.js';
import { randomDiTWeights } from '../src/runtime/bench.js';
import { createDiTSession } from '../src/runtime/index.js';
import { arg } from './args.js';

const model = arg('--model', 'DiT-XL/2') as DiTVariantName;
const batch = Number(arg('--batch', '2'));
const threads = Number(arg('--threads', '2'));
const config = ditConfigFor(model, { input_size: Number(arg('--image-size', '256')) / 8 });

if (process.argv.includes('--child')) {
  const [cacheDir, identity] = [arg('--cache', ''), arg('--identity', '')];
  const t0 = performance.now();
  const s = await createDiTSession({ config, weights: randomDiTWeights(config), path: identity }, { cacheDir, threads });
  const total = (performance.now() - t0) / 1000;
  const S = config.input_size;
  const t1 = performance.now();
  await s.run(new Float32Array(batch * config.in_channels * S * S).fill(0.5), Array(batch).fill(500), Array(batch).fill(1), batch);
  const first = (performance.now() - t1) / 1000;
  await s.release();
  const r = { from_cache: s.fromCache, build_s: s.timings.buildSeconds, session_s: s.timings.sessionSeconds, total_s: total, first_forward_s: first, peak_rss_mb: process.resourceUsage().maxRSS / 1024 };
  process.stdout.write(JSON.stringify(r) + '\n');
} else {
  const dir = mkdtempSync(path.join(tmpdir(), 'dit-session-'));
  try {
    const identity = path.join(dir, 'checkpoint-identity');
    writeFileSync(identity, 'stands in for a checkpoint file: the cache key uses its path, size, mtime');
    const self = fileURLToPath(import.meta.url);
    const run = () => {
      const out = execFileSync(process.execPath, [...process.execArgv, self, ...process.argv.slice(2), '--child', '--cache', path.join(dir, 'cache'), '--identity', identity], { encoding: 'utf8' });
      return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number | boolean>;
    };
    const rows = [{ phase: 'first run (build)', ...run() }, { phase: 'from cache', ...run() }];
    console.log(`${model}, batch ${batch}, threads ${threads}`);
    console.log('phase               build s  session s  total s  1st forward s  peak RSS MB');
    for (const r of rows) {
      const n = (k: string, d = 1) => Number(r[k as keyof typeof r]).toFixed(d);
      console.log(`${r.phase.padEnd(19)} ${n('build_s').padStart(7)} ${n('session_s').padStart(10)} ${n('total_s').padStart(8)} ${n('first_forward_s', 2).padStart(14)} ${n('peak_rss_mb', 0).padStart(12)}`);
    }
    console.log(JSON.stringify({ model, batch, threads, results: rows }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
