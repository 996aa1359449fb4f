/** Just enough of .npy to read the float32 / float64 C-order fixtures in tests. */
import { readFileSync } from 'node:fs';

export interface NpyArray<T> {
  shape: number[];
  data: T;
}

function readRaw(file: string, descr: string): { shape: number[]; bytes: ArrayBuffer } {
  const buf = readFileSync(file);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file} is not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', headerStart, headerStart + headerLen);
  if (!header.includes(`'descr': '${descr}'`) || !header.includes("'fortran_order': False")) {
    throw new Error(`${file}: expected ${descr} in C order, header ${header}`);
  }
  const shapeText = /'shape': \(([^)]*)\)/.exec(header)?.[1] ?? '';
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const offset = headerStart + headerLen;
  const count = shape.reduce((a, b) => a * b, 1);
  const width = Number(descr.slice(2));
  return { shape, bytes: buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + width * count) };
}

export function readNpyFloat32(file: string): NpyArray<Float32Array> {
  const { shape, bytes } = readRaw(file, '<f4');
  return { shape, data: new Float32Array(bytes) };
}

export function readNpyFloat64(file: string): NpyArray<Float64Array> {
  const { shape, bytes } = readRaw(file, '<f8');
  return { shape, data: new Float64Array(bytes) };
}
