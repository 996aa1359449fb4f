/**
 * Minimal zip: the central directory (zip64 included) of an archive whose entries are stored
 * uncompressed, as torch.save and numpy.savez write them. Only offsets are read here; entry data
 * stays on disk until a tensor asks for it.
 */
import { FormatError } from '../errors.js';
import { CheckpointFile } from './file.js';

export interface ZipEntry {
  readonly name: string;
  readonly method: number; // 0 = stored; anything else is compressed
  readonly size: number; // uncompressed bytes
  readonly compressedSize: number;
  readonly localHeaderOffset: number;
}

export interface ZipArchive {
  readonly file: CheckpointFile;
  readonly entries: ReadonlyMap<string, ZipEntry>;
  /** Absolute file offset of a stored entry's data (reads its local header, checks bounds). */
  dataOffset(entry: ZipEntry): number;
}

export const EOCD_SIG = 0x06054b50;
export const ZIP64_LOCATOR_SIG = 0x07064b50;
export const ZIP64_EOCD_SIG = 0x06064b50;
export const CENTRAL_SIG = 0x02014b50;
export const LOCAL_SIG = 0x04034b50;

/** A checkpoint's directory is tens of KB (one entry per storage); more is corrupt or hostile. */
const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 1024 * 1024;

function u64(view: DataView, at: number, what: string, path: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`${path}: zip64 ${what} ${v} is impossibly large: the file is corrupt`);
  return Number(v);
}

export function openZip(file: CheckpointFile): ZipArchive {
  const path = `${file.path} (zip)`;
  const tailLen = Math.min(file.size, 22 + 65535);
  if (tailLen < 22) throw new FormatError(`${path}: ${file.size} bytes is too short for a zip archive; the file is truncated`);
  const tailStart = file.size - tailLen;
  const tail = file.read(tailStart, tailLen, 'the zip end record');
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === EOCD_SIG) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new FormatError(`${path}: no zip end-of-central-directory record; the file is truncated (download it again)`);
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const locAt = tailStart + eocd - 20;
    if (locAt < 0) throw new FormatError(`${path}: zip64 locator missing before the end record`);
    const loc = new DataView(file.read(locAt, 20, 'the zip64 locator').buffer);
    if (loc.getUint32(0, true) !== ZIP64_LOCATOR_SIG) throw new FormatError(`${path}: zip64 locator has a bad signature; the file is corrupt`);
    const z64At = u64(loc, 8, 'end record offset', path);
    const z = new DataView(file.read(z64At, 56, 'the zip64 end record').buffer);
    if (z.getUint32(0, true) !== ZIP64_EOCD_SIG) throw new FormatError(`${path}: zip64 end record has a bad signature; the file is corrupt`);
    count = u64(z, 32, 'entry count', path);
    cdSize = u64(z, 40, 'central directory size', path);
    cdOffset = u64(z, 48, 'central directory offset', path);
  }
  if (cdOffset + cdSize > file.size) {
    throw new FormatError(`${path}: central directory (${cdSize} bytes at ${cdOffset}) runs past the end of the ${file.size}-byte file: truncated`);
  }
  if (cdSize > MAX_CENTRAL_DIRECTORY_BYTES) throw new FormatError(`${path}: central directory of ${cdSize} bytes exceeds the ${MAX_CENTRAL_DIRECTORY_BYTES}-byte limit; the file is corrupt`);
  if (count * 46 > cdSize) throw new FormatError(`${path}: ${count} entries cannot fit a ${cdSize}-byte central directory; the file is corrupt`);
  const cd = file.read(cdOffset, cdSize, 'the zip central directory');
  const v = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || v.getUint32(p, true) !== CENTRAL_SIG) throw new FormatError(`${path}: central directory entry ${i} is damaged`);
    const method = v.getUint16(p + 10, true);
    let compressedSize = v.getUint32(p + 20, true);
    let size = v.getUint32(p + 24, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    let localHeaderOffset = v.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > cdSize) throw new FormatError(`${path}: central directory entry ${i} runs past the directory`);
    const name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // zip64 extra field: 64-bit values for exactly the fields saturated at 0xffffffff, in this order.
    let q = p + 46 + nameLen;
    const extraEnd = q + extraLen;
    while (q + 4 <= extraEnd) {
      const id = v.getUint16(q, true);
      const len = v.getUint16(q + 2, true);
      if (q + 4 + len > extraEnd) break;
      if (id === 0x0001) {
        let r = q + 4;
        const take = (): number => {
          if (r + 8 > q + 4 + len) throw new FormatError(`${path}: entry "${name}" has a short zip64 extra field`);
          const x = u64(v, r, 'field', path);
          r += 8;
          return x;
        };
        if (size === 0xffffffff) size = take();
        if (compressedSize === 0xffffffff) compressedSize = take();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take();
      }
      q += 4 + len;
    }
    entries.set(name, { name, method, size, compressedSize, localHeaderOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return {
    file,
    entries,
    dataOffset(entry: ZipEntry): number {
      if (entry.method !== 0) {
        throw new FormatError(
          `${path}: entry "${entry.name}" is compressed (method ${entry.method}); only stored (uncompressed) entries are supported, as torch.save writes them — re-save the file with torch.save`,
        );
      }
      const h = new DataView(file.read(entry.localHeaderOffset, 30, `the local header of "${entry.name}"`).buffer);
      if (h.getUint32(0, true) !== LOCAL_SIG) throw new FormatError(`${path}: entry "${entry.name}" has a bad local header; the file is corrupt`);
      const start = entry.localHeaderOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
      if (start + entry.size > file.size) {
        throw new FormatError(`${path}: entry "${entry.name}" (${entry.size} bytes at ${start}) runs past the end of the ${file.size}-byte file: truncated`);
      }
      return start;
    },
  };
}
