/** Legacy (pre-1.6, non-zip) torch.save files, the format of pytorch-fid's Inception weights. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStateDict } from '../../src/checkpoint/index.js';
import { fixture, tempDir } from '../helpers/fixtures.js';

const arange = (n: number, f = (i: number) => i) => Array.from({ length: n }, (_, i) => f(i));

describe('legacy torch.save', () => {
  it('reads every tensor as the zip-format file of the same dict does: shared storage, offsets, strides, float64/16, int64', () => {
    const legacy = openStateDict(fixture('legacy-torch', 'legacy.pth'));
    const zip = openStateDict(fixture('legacy-torch', 'zip.pth'));
    expect(legacy.format).toBe('pytorch-legacy');
    expect([...legacy.tensors.keys()]).toEqual(['a', 'a_tail', 'a_t', 'b', 'steps', 'nested.h']);
    const values = (name: string) => Array.from(legacy.tensors.get(name)!.toFloat32());
    expect(values('a')).toEqual(arange(12));
    expect(legacy.tensors.get('a_tail')!.shape).toEqual([2, 4]);
    expect(values('a_tail')).toEqual(arange(8, (i) => i + 4));
    expect(values('a_t')).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    expect(values('b')).toEqual(arange(5, (i) => i * 0.5));
    expect(values('nested.h')).toEqual(arange(6, (i) => i / 4));
    expect(legacy.tensors.get('steps')!.shape).toEqual([]);
    for (const [name, t] of zip.tensors) {
      expect(legacy.tensors.get(name)!.shape).toEqual(t.shape);
      expect(legacy.tensors.get(name)!.toFloat32()).toEqual(t.toFloat32());
    }
    legacy.close();
    zip.close();
  });

  it('a truncated file and a wrong storage size are FormatErrors naming the storage', () => {
    const bytes = fs.readFileSync(fixture('legacy-torch', 'legacy.pth'));
    const dir = tempDir();
    const cut = path.join(dir, 'cut.pth');
    fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 10));
    expect(() => openStateDict(cut)).toThrow(/\(legacy torch\.save\): storage "\d+" runs past the end of the \d+-byte file; truncated/);
    // The first storage's int64 element count sits right after the key list: make it lie.
    const lying = Buffer.from(bytes);
    const firstCount = firstStorageHeader(lying);
    lying.writeBigInt64LE(lying.readBigInt64LE(firstCount) + 1n, firstCount);
    const bad = path.join(dir, 'bad.pth');
    fs.writeFileSync(bad, lying);
    expect(() => openStateDict(bad)).toThrow(/storage "\d+" holds \d+ elements, its tensors declare \d+; the file is corrupt/);
  });
});

/**
 * Offset of the first storage's int64 count. The storages end the file: 12 float32 (a, shared by
 * a_tail and a_t), 5 float64 (b), 1 int64 (steps), 6 float16 (h), each after an 8-byte count.
 */
function firstStorageHeader(bytes: Buffer): number {
  return bytes.length - (4 * 8 + 12 * 4 + 5 * 8 + 8 + 6 * 2);
}
