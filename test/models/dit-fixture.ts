/**
 * Reading the dit-tiny fixture: npy arrays, and a minimal F32 safetensors reader that
 * feeds the graph through the plain `(name) => Float32Array` weights form, independently of
 * checkpoint/ (whose loader is exercised in dit-checkpoints.test.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fixtureDir } from '../helpers/fixtures.js';

export const FIXTURE_DIR = fixtureDir('dit-tiny');

/** A float32, C-order, little-endian .npy file. */
export function readNpy(file: string): { data: Float32Array; shape: number[] } {
  const buf = readFileSync(file);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLen).toString('latin1');
  if (!header.includes("'descr': '<f4'") || !header.includes("'fortran_order': False")) throw new Error(`${file}: not a float32 C-order npy (${header})`);
  const shape = (/'shape': \(([^)]*)\)/.exec(header)![1]!).split(',').filter((s) => s.trim()).map(Number);
  const bytes = buf.subarray(10 + headerLen);
  return { data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), shape };
}

export function readSafetensorsF32(file: string): Map<string, { shape: number[]; data: Float32Array }> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, v] of Object.entries(header)) {
    if (k === '__metadata__') continue;
    if (v.dtype !== 'F32') throw new Error(`${k}: dtype ${v.dtype}`);
    const b = buf.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]);
    out.set(k, { shape: v.shape, data: new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)) });
  }
  return out;
}

export interface ForwardCase {
  x: { data: Float32Array; shape: number[] };
  t: number[];
  y: number[];
  out: { data: Float32Array; shape: number[] };
}

export function forwardCase(): ForwardCase {
  const m = JSON.parse(readFileSync(path.join(FIXTURE_DIR, 'manifest.json'), 'utf8')) as { forward: { x: string; t: number[]; y: number[]; out: string } };
  return { x: readNpy(path.join(FIXTURE_DIR, m.forward.x)), t: m.forward.t, y: m.forward.y, out: readNpy(path.join(FIXTURE_DIR, m.forward.out)) };
}

export { relativeError } from '../helpers/compare.js';
