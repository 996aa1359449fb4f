/**
 * The suite's fuzz generators (test/checkpoint/fuzz-cases.ts) for longer: rounds of eight cases
 * (one per reader) from successive seeds until the time is up, then cases/s, the outcomes per
 * reader and every case that escaped as something other than a DitError or broke the bounds the
 * suite uses (CPU time per case, wall time 10× that, and memory: heap + ArrayBuffer growth and the
 * rise of the peak resident memory), as a table and one JSON line.
 *
 *   npx tsx scripts/fuzz.ts [--seconds 60] [--seed 1] [--case-ms 3000] [--case-mb 256]
 *
 * Exits 1 when any case failed, printing the seed and case name that replays it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { arg } from '../bench/args.js';
import { DitError } from '../src/errors.js';
import { makeCases, runCase } from '../test/checkpoint/fuzz-cases.js';

const seconds = Number(arg('--seconds', '60'));
const firstSeed = Number(arg('--seed', '1'));
const caseMs = Number(arg('--case-ms', '3000'));
const caseBytes = Number(arg('--case-mb', '256')) * 2 ** 20;
const ROUNDS_PER_SEED = 4;

const outcomes = new Map<string, { loaded: number; refused: number; failed: number; cpuMaxMs: number; mostMb: number }>();
const failures: string[] = [];
let cases = 0;
const t0 = performance.now();
let seed = firstSeed;
while ((performance.now() - t0) / 1000 < seconds) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-fuzz-'));
  try {
    for (const c of makeCases(dir, seed, ROUNDS_PER_SEED)) {
      const o = outcomes.get(c.reader) ?? { loaded: 0, refused: 0, failed: 0, cpuMaxMs: 0, mostMb: 0 };
      outcomes.set(c.reader, o);
      const { error, ms, cpuMs, bytes, peakBytes } = runCase(c);
      const memory = Math.max(bytes, peakBytes);
      o.cpuMaxMs = Math.max(o.cpuMaxMs, cpuMs);
      o.mostMb = Math.max(o.mostMb, memory / 2 ** 20);
      cases++;
      if (error !== undefined && !(error instanceof DitError)) {
        o.failed++;
        failures.push(`seed ${seed} · ${c.reader} · ${c.name}: ${String(error).slice(0, 200)}`);
      } else if (cpuMs > caseMs || ms > 10 * caseMs || memory > caseBytes) {
        o.failed++;
        failures.push(`seed ${seed} · ${c.reader} · ${c.name}: ${cpuMs.toFixed(0)} ms CPU, ${ms.toFixed(0)} ms wall, ${(memory / 2 ** 20).toFixed(0)} MiB`);
      } else if (error === undefined) o.loaded++;
      else o.refused++;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  seed++;
}
const elapsed = (performance.now() - t0) / 1000;
console.log(`${cases} cases in ${elapsed.toFixed(1)} s (${(cases / elapsed).toFixed(1)} cases/s), seeds ${firstSeed}..${seed - 1}`);
console.log('reader'.padEnd(18) + 'loaded'.padStart(8) + 'refused'.padStart(9) + 'failed'.padStart(8) + 'CPU max'.padStart(10) + 'most'.padStart(10));
for (const [reader, o] of [...outcomes].sort()) {
  console.log(reader.padEnd(18) + String(o.loaded).padStart(8) + String(o.refused).padStart(9) + String(o.failed).padStart(8) + `${o.cpuMaxMs.toFixed(0)} ms`.padStart(10) + `${o.mostMb.toFixed(0)} MiB`.padStart(10));
}
for (const f of failures.slice(0, 50)) console.log(`FAIL ${f}`);
console.log(JSON.stringify({ cases, seconds: elapsed, cases_per_s: cases / elapsed, seeds: [firstSeed, seed - 1], case_ms: caseMs, case_mb: caseBytes / 2 ** 20, readers: Object.fromEntries([...outcomes].sort()), failures: failures.length }));
process.exitCode = failures.length > 0 ? 1 : 0;
