/**
 * Fréchet distance timing (src/metrics/frechet.ts): streaming statistics of N random feature rows
 * of D dimensions, then frechetDistance of two such sets, for each D given. The rows are
 * correlated (x = z Aᵀ with a random D×D A) so Σ is dense and full rank, as Inception's is.
 *
 *   npx tsx bench/frechet.ts [--dims 64,512,2048] [--rows 4096]
 *
 * Prints a table, then one JSON line.
 */
import { FeatureStatistics, frechetDistance } from '../src/metrics/frechet.js';
import { createTorchGenerator } from '../src/diffusion/random.js';
import { arg } from './args.js';

function features(seed: number, rows: number, d: number): Float32Array {
  const g = createTorchGenerator(seed);
  const a = g.randn(d * d);
  const out = new Float32Array(rows * d);
  const batch = 256;
  for (let r0 = 0; r0 < rows; r0 += batch) {
    const n = Math.min(batch, rows - r0);
    const z = g.randn(n * d);
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < d; i++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += z[r * d + k]! * a[i * d + k]!;
        out[(r0 + r) * d + i] = s / Math.sqrt(d) + seed * 0.1;
      }
    }
  }
  return out;
}

const dims = arg('--dims', '64,512,2048').split(',').map(Number);
const rows = Number(arg('--rows', '4096'));
const results: Array<{ dim: number; rows: number; statsSeconds: number; rowsPerSecond: number; fdSeconds: number; fdCpuSeconds: number; fd: number }> = [];
for (const dim of dims) {
  const x = features(1, rows, dim);
  const y = features(2, rows, dim);
  const t0 = performance.now();
  const sx = new FeatureStatistics(dim);
  sx.add(x);
  const a = sx.finish();
  const t1 = performance.now();
  const sy = new FeatureStatistics(dim);
  sy.add(y);
  const b = sy.finish();
  const t2 = performance.now();
  const cpu0 = process.cpuUsage();
  const fd = frechetDistance(a, b);
  const cpu = process.cpuUsage(cpu0);
  const t3 = performance.now();
  const statsSeconds = (t1 - t0) / 1000;
  results.push({ dim, rows, statsSeconds, rowsPerSecond: rows / statsSeconds, fdSeconds: (t3 - t2) / 1000, fdCpuSeconds: (cpu.user + cpu.system) / 1e6, fd });
}
console.log(`load average at the end: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')} (other processes slow the wall times; CPU time is this process's)`);
console.log('| D | rows | statistics (one set) | rows/s | Fréchet distance (wall) | (CPU) | FD |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of results) {
  console.log(`| ${r.dim} | ${r.rows} | ${r.statsSeconds.toFixed(2)} s | ${r.rowsPerSecond.toFixed(0)} | ${r.fdSeconds.toFixed(3)} s | ${r.fdCpuSeconds.toFixed(3)} s | ${r.fd.toFixed(4)} |`);
}
console.log(JSON.stringify({ bench: 'frechet', node: process.version, results }));
