/**
 * Minimal zip: the central directory (zip64 included) of an archive whose entries are stored
 * uncompressed, as torch.save and numpy.savez write them. Only offsets are read here; entry data
 * stays on disk until a tensor asks for it. And the writer of such archives (.npz statistics;
 * synthetic checkpoints in tests).
 */
import { FormatError } from '../errors.js';
import { writeAll, writeFileAtomic } from '../atomic-write.js';
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

let crcTable: Uint32Array | undefined;

function crc32(data: Uint8Array, crc = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export interface ZipEntryToWrite {
  readonly name: string;
  readonly data: Uint8Array | (() => Uint8Array);
}

export interface ZipWriteOptions {
  /** Pad each entry's data to this alignment (torch.save uses 64) via the local extra field. */
  readonly align?: number;
  /** Write zip64 records even when not needed (for testing readers). */
  readonly forceZip64?: boolean;
}

/** Writes a zip of stored entries, one entry in memory at a time. */
export function writeStoredZip(path: string, entries: readonly ZipEntryToWrite[], opts: ZipWriteOptions = {}): void {
  const align = opts.align ?? 1;
  writeFileAtomic(path, (fd) => {
    let pos = 0;
    const put = (b: Uint8Array): void => {
      writeAll(fd, b);
      pos += b.length;
    };
    const central: Uint8Array[] = [];
    for (const e of entries) {
      const data = typeof e.data === 'function' ? e.data() : e.data;
      const name = Buffer.from(e.name, 'utf-8');
      const crc = crc32(data);
      const offset = pos;
      const z64 = opts.forceZip64 === true || data.length >= 0xffffffff || offset >= 0xffffffff;
      const z64Local = z64 ? 20 : 0;
      const base = offset + 30 + name.length + z64Local;
      const pad = align > 1 ? (align - ((base + 4) % align)) % align : 0;
      const extraLen = z64Local + (align > 1 ? 4 + pad : 0);
      const local = Buffer.alloc(30 + name.length + extraLen);
      local.writeUInt32LE(LOCAL_SIG, 0);
      local.writeUInt16LE(z64 ? 45 : 20, 4);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(z64 ? 0xffffffff : data.length, 18);
      local.writeUInt32LE(z64 ? 0xffffffff : data.length, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(extraLen, 28);
      name.copy(local, 30);
      let x = 30 + name.length;
      if (z64) {
        local.writeUInt16LE(0x0001, x);
        local.writeUInt16LE(16, x + 2);
        local.writeBigUInt64LE(BigInt(data.length), x + 4);
        local.writeBigUInt64LE(BigInt(data.length), x + 12);
        x += 20;
      }
      if (align > 1) {
        local.writeUInt16LE(0x4b46, x); // an unregistered id: readers skip it
        local.writeUInt16LE(pad, x + 2);
      }
      put(local);
      put(data);
      const cextra = z64 ? 28 : 0;
      const c = Buffer.alloc(46 + name.length + cextra);
      c.writeUInt32LE(CENTRAL_SIG, 0);
      c.writeUInt16LE(z64 ? 45 : 20, 4);
      c.writeUInt16LE(z64 ? 45 : 20, 6);
      c.writeUInt32LE(crc, 16);
      c.writeUInt32LE(z64 ? 0xffffffff : data.length, 20);
      c.writeUInt32LE(z64 ? 0xffffffff : data.length, 24);
      c.writeUInt16LE(name.length, 28);
      c.writeUInt16LE(cextra, 30);
      c.writeUInt32LE(z64 ? 0xffffffff : offset, 42);
      name.copy(c, 46);
      if (z64) {
        const y = 46 + name.length;
        c.writeUInt16LE(0x0001, y);
        c.writeUInt16LE(24, y + 2);
        c.writeBigUInt64LE(BigInt(data.length), y + 4);
        c.writeBigUInt64LE(BigInt(data.length), y + 12);
        c.writeBigUInt64LE(BigInt(offset), y + 20);
      }
      central.push(c);
    }
    const cdOffset = pos;
    for (const c of central) put(c);
    const cdSize = pos - cdOffset;
    const z64 = opts.forceZip64 === true || cdOffset >= 0xffffffff || entries.length >= 0xffff;
    if (z64) {
      const z64At = pos;
      const r = Buffer.alloc(56);
      r.writeUInt32LE(ZIP64_EOCD_SIG, 0);
      r.writeBigUInt64LE(44n, 4);
      r.writeUInt16LE(45, 12);
      r.writeUInt16LE(45, 14);
      r.writeBigUInt64LE(BigInt(entries.length), 24);
      r.writeBigUInt64LE(BigInt(entries.length), 32);
      r.writeBigUInt64LE(BigInt(cdSize), 40);
      r.writeBigUInt64LE(BigInt(cdOffset), 48);
      put(r);
      const l = Buffer.alloc(20);
      l.writeUInt32LE(ZIP64_LOCATOR_SIG, 0);
      l.writeBigUInt64LE(BigInt(z64At), 8);
      l.writeUInt32LE(1, 16);
      put(l);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(EOCD_SIG, 0);
    end.writeUInt16LE(z64 ? 0xffff : entries.length, 8);
    end.writeUInt16LE(z64 ? 0xffff : entries.length, 10);
    end.writeUInt32LE(z64 ? 0xffffffff : cdSize, 12);
    end.writeUInt32LE(z64 ? 0xffffffff : cdOffset, 16);
    put(end);
  });
}
