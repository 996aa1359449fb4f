/** writeNpz: numpy.savez's layout (stored .npy entries), with and without zip64 records, read back by our zip reader. */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { writeNpz } from '../../src/checkpoint/npy.js';
import { CheckpointFile } from '../../src/checkpoint/file.js';
import { openZip } from '../../src/checkpoint/zip.js';
import { tempDir } from '../helpers/fixtures.js';

const pixels = Uint8Array.from({ length: 2 * 3 * 4 * 3 }, (_, i) => (i * 37) % 256);
const labels = new BigInt64Array([7n, -1n]);

function write(file: string, zip64: boolean): void {
  writeNpz(
    file,
    [
      // In two pieces: the writer streams.
      { name: 'arr_0', descr: '|u1', shape: [2, 3, 4, 3], chunks: () => [pixels.subarray(0, 10), pixels.subarray(10)] },
      { name: 'labels', descr: '<i8', shape: [2], chunks: () => [new Uint8Array(labels.buffer)] },
    ],
    { zip64 },
  );
}

describe('writeNpz', () => {
  it.each([false, true])('zip64 %s: entries, .npy headers as numpy writes them, data and CRC read back', (zip64) => {
    const file = path.join(tempDir(), 'x.npz');
    write(file, zip64);
    const f = new CheckpointFile(file);
    try {
      const zip = openZip(f);
      expect([...zip.entries.keys()]).toEqual(['arr_0.npy', 'labels.npy']);
      const arr = zip.entries.get('arr_0.npy')!;
      expect(arr.method).toBe(0);
      const body = Buffer.from(f.read(zip.dataOffset(arr), arr.size, 'arr_0'));
      // What numpy 1.24's np.save writes for this array: magic, version 1.0, length 118, the dict padded to 128 bytes.
      expect(body.subarray(0, 10)).toEqual(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 118, 0]));
      expect(body.subarray(10, 128).toString('latin1')).toBe(`{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4, 3), }${' '.repeat(52)}\n`);
      expect(new Uint8Array(body.subarray(128))).toEqual(pixels);
      const lab = zip.entries.get('labels.npy')!;
      expect(new BigInt64Array(f.read(zip.dataOffset(lab) + 128, 16, 'labels').slice().buffer)).toEqual(labels);
      // The CRC in the central directory is the data's.
      const bytes = fs.readFileSync(file);
      const cd = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
      expect(bytes.readUInt32LE(cd + 16)).toBe(zlib.crc32(body) >>> 0);
    } finally {
      f.close();
    }
  });

  it('the same arrays give the same bytes (no timestamps)', () => {
    const dir = tempDir();
    write(path.join(dir, 'a.npz'), false);
    write(path.join(dir, 'b.npz'), false);
    expect(fs.readFileSync(path.join(dir, 'a.npz')).equals(fs.readFileSync(path.join(dir, 'b.npz')))).toBe(true);
  });
});
