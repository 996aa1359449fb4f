/**
 * Every checkpoint reader over structured hostile inputs (test/checkpoint/fuzz-cases.ts): each case
 * loads or throws a DitError, within a time bound and a memory bound. Seeded, so a failing case is
 * named and can be replayed; scripts/fuzz.ts runs the same generators for longer.
 */
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { DitError } from '../../src/errors.js';
import { tempDir } from '../helpers/fixtures.js';
import { makeCases, runCase } from './fuzz-cases.js';

const SEED = 14;
const ROUNDS = 30; // × 8 cases each
/**
 * CPU time per case (the process's user + system time, which other processes' load on a shared
 * machine does not stretch as it does wall time). The slowest legitimate case, a 200k-key dict
 * whose 200k tensors are all read, takes ~1.5 s here.
 */
const CASE_CPU_MS = 3000;
/** Wall time per case, loosely: a reader waiting on something (a pipe, a lock) instead of computing. */
const CASE_WALL_MS = 30_000;
/**
 * Memory a case may take: its heap + ArrayBuffer growth, and its rise of the process's peak resident
 * memory (so a buffer allocated and dropped within the case counts too). The fixtures are under 1 MB;
 * hostile sizes must not be allocated.
 */
const CASE_BYTES = 256 * 1024 * 1024;

const dir = tempDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('fuzz: structured hostile inputs for every reader', () => {
  const cases = makeCases(dir, SEED, ROUNDS);
  const outcomes = cases.map(runCase);

  it('each case loads or throws a DitError with a one-line-start message, within the CPU time, wall time and memory bounds', () => {
    const bad = outcomes
      .filter((o) => (!o.ok && !(o.error instanceof DitError)) || o.cpuMs > CASE_CPU_MS || o.ms > CASE_WALL_MS || o.bytes > CASE_BYTES || o.peakBytes > CASE_BYTES)
      .map((o) => `${o.c.reader} · ${o.c.name}: ${o.ok ? 'loaded' : String(o.error).slice(0, 200)} in ${o.cpuMs.toFixed(0)} ms CPU (${o.ms.toFixed(0)} ms wall), +${(o.bytes / 1e6).toFixed(0)} MB, peak +${(o.peakBytes / 1e6).toFixed(0)} MB`);
    expect(bad).toEqual([]);
  });

  it('covers every reader, and hostile inputs are mostly refused (not silently loaded)', () => {
    const readers = new Set(cases.map((c) => c.reader));
    expect([...readers].sort()).toEqual(['config.json', 'diffusers folder', 'mutated fixture', 'npy/npz', 'pickle/zip', 'safetensors', 'vae folder']);
    for (const reader of ['pickle/zip', 'safetensors', 'npy/npz']) {
      const mine = outcomes.filter((o) => o.c.reader === reader);
      expect(mine.filter((o) => !o.ok).length / mine.length).toBeGreaterThan(0.75);
    }
  });
});
