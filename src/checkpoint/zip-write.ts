/**
 * Writes a zip of stored (uncompressed) entries, as numpy.savez does, streaming each entry's bytes
 * so that an archive larger than memory (50,000 images of 512² RGB are 39 GB) never sits in RAM.
 * Zip64 records are written when a size or offset needs them (or always, with `zip64: true`, for
 * tests). Every timestamp is 1980-01-01 00:00, so the same entries always give the same bytes.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { assert } from '../errors.js';
import { writeAll } from '../atomic-write.js';
import { CENTRAL_SIG, EOCD_SIG, LOCAL_SIG, ZIP64_EOCD_SIG, ZIP64_LOCATOR_SIG } from './zip.js';

export interface ZipWriteEntry {
  readonly name: string;
  /** Total bytes the chunks will give (written into the local header before the data). */
  readonly size: number;
  /** The entry's bytes, in order. */
  readonly chunks: () => Iterable<Uint8Array>;
}

const U32_MAX = 0xffffffff;
const DOS_DATE_1980_01_01 = (0 << 9) | (1 << 5) | 1;
const VERSION_PLAIN = 20;
const VERSION_ZIP64 = 45;

class Bytes {
  private readonly parts: number[] = [];
  u16(v: number): this {
    this.parts.push(v & 0xff, (v >>> 8) & 0xff);
    return this;
  }
  u32(v: number): this {
    this.u16(v & 0xffff).u16(Math.floor(v / 0x10000) & 0xffff);
    return this;
  }
  u64(v: number): this {
    return this.u32(v % 2 ** 32).u32(Math.floor(v / 2 ** 32));
  }
  raw(b: Uint8Array): this {
    for (const x of b) this.parts.push(x);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** Writes the archive into the open file `fd` from its start (the caller writes it atomically). */
export function writeZip(fd: number, entries: readonly ZipWriteEntry[], opts: { zip64?: boolean } = {}): void {
  let offset = 0;
  const central: Bytes[] = [];
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const big = opts.zip64 === true || e.size >= U32_MAX;
    const local = new Bytes()
      .u32(LOCAL_SIG)
      .u16(big ? VERSION_ZIP64 : VERSION_PLAIN)
      .u16(0) // flags
      .u16(0) // stored
      .u16(0) // time 00:00
      .u16(DOS_DATE_1980_01_01)
      .u32(0) // crc, patched once the data is written
      .u32(big ? U32_MAX : e.size)
      .u32(big ? U32_MAX : e.size)
      .u16(name.length)
      .u16(big ? 20 : 0)
      .raw(name);
    if (big) local.u16(0x0001).u16(16).u64(e.size).u64(e.size);
    const headerOffset = offset;
    const header = local.done();
    writeAll(fd, header);
    offset += header.length;
    let crc = 0;
    let written = 0;
    for (const chunk of e.chunks()) {
      crc = zlib.crc32(chunk, crc);
      writeAll(fd, chunk);
      written += chunk.length;
    }
    assert(written === e.size, () => `zip entry ${e.name}: announced ${e.size} bytes, got ${written}`);
    offset += written;
    const crcBytes = new Bytes().u32(crc >>> 0).done();
    fs.writeSync(fd, crcBytes, 0, 4, headerOffset + 14);

    const farOffset = opts.zip64 === true || headerOffset >= U32_MAX;
    const extra = new Bytes();
    if (big) extra.u64(e.size).u64(e.size);
    if (farOffset) extra.u64(headerOffset);
    const cd = new Bytes()
      .u32(CENTRAL_SIG)
      .u16(big || farOffset ? VERSION_ZIP64 : VERSION_PLAIN)
      .u16(big || farOffset ? VERSION_ZIP64 : VERSION_PLAIN)
      .u16(0)
      .u16(0)
      .u16(0)
      .u16(DOS_DATE_1980_01_01)
      .u32(crc >>> 0)
      .u32(big ? U32_MAX : e.size)
      .u32(big ? U32_MAX : e.size)
      .u16(name.length)
      .u16(extra.length > 0 ? 4 + extra.length : 0)
      .u16(0) // comment
      .u16(0) // disk
      .u16(0) // internal attributes
      .u32(0) // external attributes
      .u32(farOffset ? U32_MAX : headerOffset)
      .raw(name);
    if (extra.length > 0) cd.u16(0x0001).u16(extra.length).raw(extra.done());
    central.push(cd);
  }
  const cdOffset = offset;
  let cdSize = 0;
  for (const cd of central) {
    const b = cd.done();
    writeAll(fd, b);
    cdSize += b.length;
  }
  const tail = new Bytes();
  const far = opts.zip64 === true || cdOffset >= U32_MAX || cdOffset + cdSize >= U32_MAX || entries.length >= 0xffff;
  if (far) {
    const eocd64 = cdOffset + cdSize;
    tail
      .u32(ZIP64_EOCD_SIG)
      .u64(44)
      .u16(VERSION_ZIP64)
      .u16(VERSION_ZIP64)
      .u32(0)
      .u32(0)
      .u64(entries.length)
      .u64(entries.length)
      .u64(cdSize)
      .u64(cdOffset)
      .u32(ZIP64_LOCATOR_SIG)
      .u32(0)
      .u64(eocd64)
      .u32(1);
  }
  tail
    .u32(EOCD_SIG)
    .u16(0)
    .u16(0)
    .u16(far ? 0xffff : entries.length)
    .u16(far ? 0xffff : entries.length)
    .u32(far ? U32_MAX : cdSize)
    .u32(far ? U32_MAX : cdOffset)
    .u16(0);
  writeAll(fd, tail.done());
}
