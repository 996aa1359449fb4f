/** LazyTensor implementations over a CheckpointFile: contiguous spans and strided views. */
import { FormatError } from '../errors.js';
import { bytesToFloat32, DTYPE_BYTES, numelOf } from './dtype.js';
import type { CheckpointFile } from './file.js';
import type { DType, LazyTensor } from './types.js';

/** A tensor stored contiguously at `offset` in the file. */
export function contiguousTensor(file: CheckpointFile, dtype: DType, shape: readonly number[], offset: number, what: string): LazyTensor {
  return {
    dtype,
    shape,
    toFloat32(): Float32Array {
      const n = numelOf(shape);
      if (dtype === 'F32') {
        // Read straight into the result's memory: no second copy of a large weight.
        const out = new Float32Array(n);
        file.read(offset, n * 4, what, new Uint8Array(out.buffer));
        return out;
      }
      return bytesToFloat32(file.read(offset, n * DTYPE_BYTES[dtype], what), dtype, undefined, n);
    },
  };
}

/**
 * A strided view into a storage of `storageNumel` elements at `storageFileOffset` (PyTorch's
 * storage_offset / size / stride). Contiguous views read only their own span.
 */
export function stridedTensor(
  file: CheckpointFile,
  dtype: DType,
  storageFileOffset: number,
  storageNumel: number,
  elementOffset: number,
  shape: readonly number[],
  stride: readonly number[],
  what: string,
): LazyTensor {
  const n = numelOf(shape);
  let maxIndex = elementOffset;
  for (let d = 0; d < shape.length; d++) {
    if (shape[d]! > 0 && stride[d]! < 0) throw new FormatError(`${what}: negative stride ${stride[d]} is not a valid PyTorch tensor`);
    maxIndex += (shape[d]! - 1) * stride[d]!;
  }
  if (n > 0 && (elementOffset < 0 || maxIndex >= storageNumel)) {
    throw new FormatError(
      `${what}: view (offset ${elementOffset}, size [${shape.join(', ')}], stride [${stride.join(', ')}]) reaches element ${maxIndex} of a storage with ${storageNumel} elements: the file is corrupt`,
    );
  }
  if (n > storageNumel) {
    throw new FormatError(`${what}: ${n} elements over a storage of ${storageNumel} (an expanded view); such tensors are not supported in checkpoints — save t.contiguous() instead`);
  }
  const itemsize = DTYPE_BYTES[dtype];
  let contiguous = true;
  let expect = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expect) contiguous = false;
    expect *= shape[d]!;
  }
  if (contiguous || n === 0) return contiguousTensor(file, dtype, shape, storageFileOffset + elementOffset * itemsize, what);
  return {
    dtype,
    shape,
    toFloat32(): Float32Array {
      const lo = elementOffset;
      const bytes = file.read(storageFileOffset + lo * itemsize, (maxIndex - lo + 1) * itemsize, what);
      const indices = new Float64Array(n);
      const idx = new Array<number>(shape.length).fill(0);
      for (let i = 0; i < n; i++) {
        let e = 0;
        for (let d = 0; d < shape.length; d++) e += idx[d]! * stride[d]!;
        indices[i] = e;
        for (let d = shape.length - 1; d >= 0; d--) {
          if (++idx[d]! < shape[d]!) break;
          idx[d] = 0;
        }
      }
      return bytesToFloat32(bytes, dtype, indices);
    },
  };
}

/** A tensor computed from others (renamed, concatenated, generated); read when asked. */
export function derivedTensor(dtype: DType, shape: readonly number[], compute: () => Float32Array): LazyTensor {
  return { dtype, shape, toFloat32: compute };
}

/** Concatenates tensors along dim 0 (e.g. to_q, to_k, to_v → qkv) without reading them now. */
export function concatDim0(parts: readonly LazyTensor[]): LazyTensor {
  const rest = parts[0]!.shape.slice(1);
  const rows = parts.reduce((s, p) => s + p.shape[0]!, 0);
  return derivedTensor(parts[0]!.dtype, [rows, ...rest], () => {
    const out = new Float32Array(numelOf([rows, ...rest]));
    let at = 0;
    for (const p of parts) {
      const v = p.toFloat32();
      out.set(v, at);
      at += v.length;
    }
    return out;
  });
}

/** The same data under a new shape (e.g. a 1×1 conv kernel [C, C, 1, 1] read as a Linear [C, C]). */
export function reshaped(t: LazyTensor, shape: readonly number[]): LazyTensor {
  return derivedTensor(t.dtype, shape, () => t.toFloat32());
}

/**
 * `tensors` with each one checked for NaN and ±Inf as it is read: a damaged checkpoint would
 * otherwise sample to an all-NaN image and exit 0. The check is one pass over values just read from
 * the file (cheap next to the read), done where the graph builder reads each weight, so loading
 * costs no extra read; `dit inspect` reads the weights once to warn.
 */
export function finiteChecked(tensors: ReadonlyMap<string, LazyTensor>, where: string): Map<string, LazyTensor> {
  const out = new Map<string, LazyTensor>();
  for (const [name, t] of tensors) {
    out.set(name, {
      dtype: t.dtype,
      shape: t.shape,
      toFloat32(): Float32Array {
        const v = t.toFloat32();
        let bad = 0;
        let first = -1;
        for (let i = 0; i < v.length; i++) {
          // x - x is NaN exactly for NaN and ±Inf: one subtraction, no branches on the common path.
          if (v[i]! - v[i]! !== 0) {
            if (first < 0) first = i;
            bad++;
          }
        }
        if (bad > 0) {
          throw new FormatError(
            `${where}: tensor "${name}" holds ${bad} NaN or infinite value${bad > 1 ? 's' : ''} (the first at index ${first}, ${v[first]}); the checkpoint is damaged and would give NaN images — download or export it again`,
          );
        }
        return v;
      },
    });
  }
  return out;
}
