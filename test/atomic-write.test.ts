/**
 * Outputs on a full or read-only disk: one line naming the user's path, and nothing half-written or
 * partial left behind. A small tmpfs stands in for the full disk, so these tests need root (CI is).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canMount, smallDisk, unmountAll } from './helpers/disk.js';
import { writeFileAtomic } from '../src/atomic-write.js';
import { saveEach } from '../src/image/png.js';
import type { RgbImage } from '../src/image/grid.js';

/** Noise images compress badly: about 48 KB of PNG each. */
function noiseImages(n: number): RgbImage[] {
  let seed = 1;
  const next = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  return Array.from({ length: n }, () => ({ width: 128, height: 128, data: Uint8Array.from({ length: 128 * 128 * 3 }, next) }));
}

afterAll(unmountAll);

describe.skipIf(!canMount)('writes on a full or read-only disk (needs root to mount a tmpfs)', () => {
  it('--save-each on a disk with room for 2 of 8 images leaves none of them, and names the file that did not fit', () => {
    const disk = smallDisk(120)!;
    const dir = path.join(disk, 'each');
    expect(() => saveEach(dir, noiseImages(8))).toThrow(new RegExp(`^cannot write ${dir}/00000[0-9]\\.png: the disk is full \\(ENOSPC\\)$`));
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('a single output names the path the user gave, not the temporary file', () => {
    const disk = smallDisk(16)!;
    const out = path.join(disk, 'sample.png');
    expect(() => writeFileAtomic(out, new Uint8Array(64 * 1024))).toThrow(`cannot write ${out}: the disk is full (ENOSPC)`);
    expect(fs.readdirSync(disk)).toEqual([]);
  });

  it('a read-only disk says so', () => {
    const disk = smallDisk(16, true)!;
    const out = path.join(disk, 'sample.png');
    expect(() => writeFileAtomic(out, new Uint8Array(10))).toThrow(`cannot write ${out}: the file system is read-only (EROFS)`);
    expect(() => saveEach(path.join(disk, 'each'), noiseImages(1))).toThrow(`cannot write ${path.join(disk, 'each')}: the file system is read-only (EROFS)`);
  });
});
