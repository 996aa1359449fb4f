/**
 * float32 → float16 conversion speed (what `--dtype fp16` spends building a graph: DiT-XL/2 has 675 M
 * weights). Baseline: `toHalfBits` value by value; then `toFloat16` (the bulk path) and `halfWeight`
 * (the same plus the ±65504 check), on the same random weights, best of --repeats.
 *
 *   npx tsx bench/float16.ts [--values 20000000] [--repeats 3]
 */
import { toFloat16, toHalfBits } from '../src/graph/index.js';
import { halfWeight } from '../src/models/fp16.js';
import { arg } from './args.js';

const n = Number(arg('--values', '20000000'));
const repeats = Number(arg('--repeats', '3'));
const data = new Float32Array(n);
for (let i = 0; i < n; i++) data[i] = (Math.random() - 0.5) * 0.2; // DiT weights are of this size

const perValue = (d: Float32Array) => {
  const out = new Uint16Array(d.length);
  for (let i = 0; i < d.length; i++) out[i] = toHalfBits(d[i]!);
  return out;
};
const cases: [string, (d: Float32Array) => Uint16Array][] = [['toHalfBits per value (before)', perValue], ['toFloat16', toFloat16], ['halfWeight', (d) => halfWeight('w', d)]];
const rows = cases.map(([name, f]) => {
  let best = Infinity;
  for (let r = 0; r < repeats; r++) {
    const t = performance.now();
    f(data);
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  return { name, seconds: best, mvalues_per_s: n / best / 1e6 };
});
console.log(`| conversion (${n} values, best of ${repeats}) | seconds | M values/s |\n| --- | --- | --- |`);
for (const r of rows) console.log(`| ${r.name} | ${r.seconds.toFixed(3)} | ${r.mvalues_per_s.toFixed(0)} |`);
console.log(JSON.stringify({ bench: 'float16', values: n, rows }));
