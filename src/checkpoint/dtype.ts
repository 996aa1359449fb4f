/** On-disk element types and their conversion to float32 (what the model builder consumes). */
import type { DType } from './types.js';

export const DTYPE_BYTES: Readonly<Record<DType, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I8: 1 };

let halfTable: Float32Array | undefined;

/** All 65536 half values, built once: a lookup is faster than bit twiddling per element. */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  const u32 = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    let mant = h & 0x3ff;
    if (exp === 0) {
      if (mant === 0) {
        u32[h] = sign;
      } else {
        // Subnormal half: normalise into a float32 exponent.
        let e = -1;
        do {
          e++;
          mant <<= 1;
        } while ((mant & 0x400) === 0);
        u32[h] = sign | ((127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
      }
    } else if (exp === 31) {
      u32[h] = sign | 0x7f800000 | (mant << 13);
    } else {
      u32[h] = sign | ((exp - 15 + 127) << 23) | (mant << 13);
    }
  }
  halfTable = table;
  return table;
}

/**
 * Converts `count` elements of `dtype` (little-endian bytes) to float32, reading element i at
 * byte `elementOffset(i)·itemsize` — the caller passes the contiguous or strided order.
 */
export function bytesToFloat32(bytes: Uint8Array, dtype: DType, indices?: Int32Array | Float64Array, count?: number): Float32Array {
  const n = indices ? indices.length : (count ?? bytes.length / DTYPE_BYTES[dtype]);
  const out = new Float32Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = (i: number): number => (indices ? indices[i]! : i);
  switch (dtype) {
    case 'F32':
      if (!indices && bytes.byteOffset % 4 === 0) {
        out.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
      } else {
        for (let i = 0; i < n; i++) out[i] = view.getFloat32(at(i) * 4, true);
      }
      break;
    case 'F16': {
      const table = halfToFloatTable();
      for (let i = 0; i < n; i++) {
        const j = at(i) * 2;
        out[i] = table[bytes[j]! | (bytes[j + 1]! << 8)]!;
      }
      break;
    }
    case 'BF16': {
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) {
        const j = at(i) * 2;
        u32[i] = ((bytes[j]! | (bytes[j + 1]! << 8)) << 16) >>> 0;
      }
      break;
    }
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(at(i) * 8, true);
      break;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(at(i) * 8, true));
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(at(i));
      break;
  }
  return out;
}


export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
