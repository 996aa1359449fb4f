import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodePng, encodePng, readPng, saveEach, writePng } from '../../src/image/png.js';
import type { RgbImage } from '../../src/image/grid.js';
import { FormatError } from '../../src/errors.js';

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
  return Buffer.concat([head, body, crc]);
}

const image: RgbImage = { width: 3, height: 2, data: Uint8Array.from([0, 1, 2, 250, 251, 252, 9, 8, 7, 10, 20, 30, 40, 50, 60, 255, 0, 128]) };

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-png-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('PNG encode/decode', () => {
  it('writes an 8-bit RGB PNG (IHDR colour type 2, no alpha) that decodes to the same bytes', () => {
    const png = encodePng(image);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
    expect([png.readUInt32BE(16), png.readUInt32BE(20), png[24], png[25]]).toEqual([3, 2, 8, 2]);
    const back = decodePng(png);
    expect([back.width, back.height]).toEqual([3, 2]);
    expect([...back.data]).toEqual([...image.data]);
  });

  it('decodes a PNG built by hand (grey + RGBA scanlines, filter 0)', () => {
    const ihdr = Buffer.from([0, 0, 0, 2, 0, 0, 0, 1, 8, 6, 0, 0, 0]); // 2×1 RGBA 8-bit
    const raw = Buffer.from([0, 11, 22, 33, 255, 44, 55, 66, 0]);
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      chunk('IDAT', zlib.deflateSync(raw)),
      chunk('IEND', new Uint8Array(0)),
    ]);
    expect(decodePng(png)).toEqual({ width: 2, height: 1, data: Uint8Array.from([11, 22, 33, 44, 55, 66]) });
  });

  it('names the file when the bytes are not a PNG', () => {
    expect(() => decodePng(Buffer.from('not a png at all'), 'x.png')).toThrow(FormatError);
    expect(() => decodePng(Buffer.from('not a png at all'), 'x.png')).toThrow(/x\.png is not a readable PNG/);
  });
});

describe('atomic writes', () => {
  it('writes and reads back a file, leaving nothing else in the folder', () => {
    const file = path.join(dir, 'grid.png');
    writePng(file, image);
    expect(fs.readdirSync(dir)).toEqual(['grid.png']);
    expect([...readPng(file).data]).toEqual([...image.data]);
  });

  it('leaves no temporary file behind when the final rename fails', () => {
    fs.mkdirSync(path.join(dir, 'taken.png', 'inside'), { recursive: true }); // a non-empty folder cannot be replaced
    expect(() => writePng(path.join(dir, 'taken.png'), image)).toThrow();
    expect(fs.readdirSync(dir)).toEqual(['taken.png']);
  });

  it('saveEach writes 000000.png, 000001.png, ... into a new folder', () => {
    const out = path.join(dir, 'each');
    const other: RgbImage = { width: 1, height: 1, data: Uint8Array.from([1, 2, 3]) };
    const files = saveEach(out, [image, other]);
    expect(files.map((f) => path.basename(f))).toEqual(['000000.png', '000001.png']);
    expect(fs.readdirSync(out).sort()).toEqual(['000000.png', '000001.png']);
    expect([...readPng(files[1]).data]).toEqual([1, 2, 3]);
  });
});
