/** The compiled-model cache's own guarantees: damaged entries are rebuilt, abandoned builds swept. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canMount, smallDisk, unmountAll } from '../helpers/disk.js';
import { cachedModel } from '../../src/runtime/compiled-cache.js';

function freshDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dit-cache-test-'));
}

/** A stand-in build: model.onnx and a 3 MB model.onnx.data, counting calls. */
function counter() {
  let builds = 0;
  const data = Buffer.alloc(3 << 20, 1);
  return {
    get builds() {
      return builds;
    },
    build(modelPath: string) {
      builds++;
      fs.writeFileSync(modelPath, 'graph');
      fs.writeFileSync(`${modelPath}.data`, data);
    },
  };
}

/** A process id that is not running: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('compiled-model cache integrity', () => {
  const warnings: string[] = [];
  process.on('warning', (w) => warnings.push(w.message));

  it('rebuilds an entry whose data file was truncated, or had a block changed, instead of running it', async () => {
    const cacheDir = freshDir();
    const b = counter();
    const first = (await cachedModel(cacheDir, 'dit', { a: 1 }, b.build));
    expect([first.fromCache, b.builds]).toEqual([false, 1]);
    expect((await cachedModel(cacheDir, 'dit', { a: 1 }, b.build)).fromCache).toBe(true);

    fs.truncateSync(`${first.modelPath}.data`, 1 << 20);
    const afterTruncation = (await cachedModel(cacheDir, 'dit', { a: 1 }, b.build));
    expect([afterTruncation.fromCache, b.builds]).toEqual([false, 2]);
    expect(fs.statSync(`${first.modelPath}.data`).size).toBe(3 << 20);

    const fd = fs.openSync(`${first.modelPath}.data`, 'r+');
    fs.writeSync(fd, Buffer.alloc(4096, 9), 0, 4096, 1 << 20);
    fs.closeSync(fd);
    const afterFlip = (await cachedModel(cacheDir, 'dit', { a: 1 }, b.build));
    expect([afterFlip.fromCache, b.builds]).toEqual([false, 3]);
    expect((await cachedModel(cacheDir, 'dit', { a: 1 }, b.build)).fromCache).toBe(true);
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    expect(warnings.some((w) => w.includes('model.onnx.data has 1048576 bytes, 3145728 were written); rebuilding it'))).toBe(true);
    expect(warnings.some((w) => w.includes('model.onnx.data no longer has the content that was written'))).toBe(true);
  });

  it('deletes temporary build folders whose process is gone, and keeps those of running builders', async () => {
    const cacheDir = freshDir();
    const dead = deadPid();
    const abandoned = path.join(cacheDir, `.dit-0123456789abcdef01234567-tmp-${dead}-Ab3xYz`);
    const running = path.join(cacheDir, `.dit-0123456789abcdef01234567-tmp-${process.pid}-Qr5tUv`);
    for (const d of [abandoned, running]) {
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, 'model.onnx.data'), 'partial');
    }
    const noCacheLeft = path.join(os.tmpdir(), `dit-ts-dit-${dead}-Zz9yX8`);
    fs.mkdirSync(noCacheLeft, { recursive: true });

    await cachedModel(cacheDir, 'dit', { a: 2 }, counter().build);
    expect(fs.existsSync(abandoned)).toBe(false);
    expect(fs.existsSync(running)).toBe(true);

    const temp = await cachedModel(undefined, 'dit', { a: 2 }, counter().build);
    expect(fs.existsSync(noCacheLeft)).toBe(false);
    expect(path.basename(path.dirname(temp.modelPath))).toMatch(new RegExp(`^dit-ts-dit-${process.pid}-[A-Za-z0-9]{6}$`));
    temp.cleanup();
    expect(fs.existsSync(path.dirname(temp.modelPath))).toBe(false);
  });
});

describe.skipIf(!canMount)('compiled-model cache on a full or read-only disk (needs root to mount a tmpfs)', () => {
  afterAll(unmountAll);

  it('a read-only cache folder says so and how to go on', async () => {
    const disk = smallDisk(64, true)!;
    const cacheDir = path.join(disk, 'cache', 'compiled');
    await expect(cachedModel(cacheDir, 'dit', { a: 3 }, counter().build)).rejects.toThrow(
      `cannot write ${cacheDir}: the file system is read-only (EROFS); the compiled-model cache needs room there: free space, or pass --cache-dir DIR or --no-cache`,
    );
  });

  it('a full disk during a build names the cache folder, and leaves no partial entry', async () => {
    const disk = smallDisk(1024)!;
    await expect(cachedModel(disk, 'dit', { a: 4 }, counter().build)).rejects.toThrow(
      `cannot write ${disk}: the disk is full (ENOSPC); the compiled-model cache needs room there: free space, or pass --cache-dir DIR or --no-cache`,
    );
    expect(fs.readdirSync(disk)).toEqual([]);
  });
});
