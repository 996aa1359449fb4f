import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDeviceStarts, createDiTSession, createSession, deviceSupport, DEVICES } from '../../src/runtime/index.js';
import { InternalError, UsageError } from '../../src/errors.js';
import { encodeModel, GraphBuilder } from '../../src/graph/index.js';
import type { DiTConfig } from '../../src/models/dit.js';
import { cachedTinyDiT } from '../helpers/dit-sessions.js';
import { FIXTURE_DIR, readSafetensorsF32, relativeError } from '../models/dit-fixture.js';

const dir = mkdtempSync(path.join(tmpdir(), 'runtime-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tinyModel(): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [2]);
  g.output(g.add(x, x), 'y');
  return encodeModel(g.finish());
}

describe('devices', () => {
  it('has one frozen device table: cpu, webgpu, cuda', () => {
    expect(Object.keys(DEVICES)).toEqual(['cpu', 'webgpu', 'cuda']);
    expect(Object.isFrozen(DEVICES)).toBe(true);
  });

  it('refuses an unknown device, listing the valid ones (a caller bug: options.ts checks --device)', async () => {
    await expect(createSession(tinyModel(), { device: 'tpu' as never })).rejects.toThrow(InternalError);
    await expect(createSession(tinyModel(), { device: 'tpu' as never })).rejects.toThrow('unknown device "tpu"; use one of: cpu, webgpu, cuda');
  });

  it('says why an unavailable device cannot run and which can, in the same line as the early probe', async () => {
    const support = deviceSupport();
    expect(support.cpu.available).toBe(true);
    const missing = (Object.keys(support) as Array<keyof typeof support>).find((d) => !support[d].available);
    if (missing === undefined) return; // every provider is installed on this machine
    const err = await createSession(tinyModel(), { device: missing }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(new RegExp(`^--device ${missing} is not available here: .+\\. Devices that work here: cpu[^;]*; pass one of them to --device$`));
    const early = await checkDeviceStarts(missing).catch((e: unknown) => e);
    expect(early).toBeInstanceOf(UsageError);
    expect((early as Error).message).toBe((err as Error).message);
  });

  it('refuses a bad thread count', async () => {
    await expect(createSession(tinyModel(), { threads: 0 })).rejects.toThrow('threads 0 must be a positive integer');
  });
});

describe('compiled-model cache', () => {
  const config = JSON.parse(readFileSync(path.join(FIXTURE_DIR, 'config.json'), 'utf8')) as DiTConfig;
  const sd = readSafetensorsF32(path.join(FIXTURE_DIR, 'model.safetensors'));
  let reads = 0;
  const weights = (name: string) => {
    reads++;
    return sd.get(name)!.data;
  };
  const { ckpt, cacheDir, fc, open } = cachedTinyDiT(dir, config, weights);

  it('builds once, then reuses the model; a changed file, other options or noCache rebuild', async () => {
    const first = await open();
    expect(first.fromCache).toBe(false);
    expect(reads).toBeGreaterThan(0);
    expect(relativeError(first.out, fc.out.data)).toBeLessThan(1e-5);

    reads = 0;
    const second = await open();
    expect(second.fromCache).toBe(true);
    expect(second.buildSeconds).toBe(0);
    expect(reads).toBe(0);
    expect(Array.from(second.out)).toEqual(Array.from(first.out));

    expect((await open({ attention: 'plain' })).fromCache).toBe(false);
    expect((await open({ noCache: true })).fromCache).toBe(false);
    expect(readdirSync(cacheDir).filter((d) => d.startsWith('dit-'))).toHaveLength(2);

    // A new version of the file replaces the entry built from the old one (same options) and leaves the 'plain' one.
    utimesSync(ckpt, new Date(), new Date(Date.now() + 5000));
    expect((await open()).fromCache).toBe(false);
    expect(readdirSync(cacheDir).filter((d) => d.startsWith('dit-'))).toHaveLength(2);
    expect((await open({ attention: 'plain' })).fromCache).toBe(false);
    expect((await open()).fromCache).toBe(true);
    expect(readdirSync(cacheDir).filter((d) => d.startsWith('dit-'))).toHaveLength(2);
    expect(readdirSync(cacheDir).filter((d) => d.includes('tmp'))).toHaveLength(0);
  });

  it('rebuilds after the file is replaced by one of the same size whose mtime was carried over (cp -p, rsync -t)', async () => {
    const when = 1_700_000_000; // whole seconds, so that utimes puts back exactly the same mtime
    utimesSync(ckpt, when, when);
    expect((await open()).fromCache).toBe(false);
    expect((await open()).fromCache).toBe(true);
    const bytes = readFileSync(ckpt);
    bytes[bytes.length - 1] ^= 1;
    // Rewritten in place (same inode), then the old times put back: size and mtime are what they were.
    writeFileSync(ckpt, bytes);
    utimesSync(ckpt, when, when);
    expect([statSync(ckpt).size, statSync(ckpt).mtimeMs]).toEqual([bytes.length, when * 1000]);
    expect((await open()).fromCache).toBe(false);
    expect((await open()).fromCache).toBe(true);
    // Another file renamed into place (a new inode), times carried over.
    const other = `${ckpt}.new`;
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(other, bytes);
    utimesSync(other, when, when);
    renameSync(other, ckpt);
    expect((await open()).fromCache).toBe(false);
    expect(readdirSync(cacheDir).filter((d) => d.startsWith('dit-'))).toHaveLength(2);
  });

  it('checks run() arguments against the batch', async () => {
    const s = await createDiTSession({ config, weights, path: ckpt }, { cacheDir });
    await expect(s.run(new Float32Array(10), [1], [1], 1)).rejects.toThrow('x has 10 values; batch 1 × (4, 8, 8) needs 256');
    await s.release();
  });
});
