/**
 * NumPy .npy and .npz (a zip of stored .npy entries): float32 and int64 arrays, C order,
 * little-endian. Used for latents, test references and interchange.
 */
import { FormatError } from '../errors.js';
import { numelOf } from './dtype.js';
import { CheckpointFile } from './file.js';
import { writeAll, writeFileAtomic } from '../atomic-write.js';
import { contiguousTensor } from './lazy.js';
import type { DType, LazyTensor } from './types.js';
import { openZip } from './zip.js';
import { writeZip } from './zip-write.js';

export interface NpyArray {
  readonly data: Float32Array | BigInt64Array;
  readonly shape: number[];
}

export const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59] as const; // \x93NUMPY

const DESCR_DTYPES: Readonly<Record<string, DType>> = { '<f4': 'F32', '<f2': 'F16', '<f8': 'F64', '<i8': 'I64' };

/**
 * Longest .npy header read. numpy writes about 128 bytes for the arrays dit-ts uses and version 1
 * caps it at 64 KiB; versions 2 and 3 allow 4 GiB, which only a hostile file would use.
 */
export const MAX_NPY_HEADER_BYTES = 1 << 20;

/**
 * Where the value of `'key':` starts in a header dict's text, or -1. The header is parsed with
 * indexOf scans, not regular expressions: a regex over a hostile 1 MiB header can backtrack for
 * seconds.
 */
function valueAt(text: string, key: string): number {
  const k = text.indexOf(`'${key}'`);
  if (k < 0) return -1;
  const i = skipSpace(text, k + key.length + 2);
  if (text[i] !== ':') return -1;
  return skipSpace(text, i + 1);
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  return i;
}

/** The text of a '…' string starting at `at`. */
function quoted(text: string, at: number): string | undefined {
  if (at < 0 || text[at] !== "'") return undefined;
  const end = text.indexOf("'", at + 1);
  return end < 0 ? undefined : text.slice(at + 1, end);
}

/** The text inside a (…) tuple starting at `at`. */
function parenthesized(text: string, at: number): string | undefined {
  if (at < 0 || text[at] !== '(') return undefined;
  const end = text.indexOf(')', at + 1);
  return end < 0 ? undefined : text.slice(at + 1, end);
}

interface NpyHeader {
  readonly dtype: DType;
  readonly shape: number[];
  readonly dataOffset: number;
}

/** An array's header, its dtype as numpy writes it ('<f4', '<f8', '|u1'...). */
export interface RawNpyHeader {
  readonly descr: string;
  readonly shape: number[];
  /** Absolute file offset of the data; the whole array is known to lie inside the entry. */
  readonly dataOffset: number;
}

/** Parses the .npy header at `offset` of `file` (an entry of `length` bytes). */
function readHeader(file: CheckpointFile, offset: number, length: number, where: string): NpyHeader {
  const h = readRawHeader(file, offset, length, where);
  const dtype = DESCR_DTYPES[h.descr];
  if (!dtype) throw new FormatError(`${where}: .npy dtype '${h.descr}' is not supported; supported: float32 (<f4), int64 (<i8), float16, float64`);
  return { dtype, shape: h.shape, dataOffset: h.dataOffset };
}

/** Element sizes of the dtypes a raw header may name: what the readers convert, and 8-bit images. */
function descrBytes(descr: string): number | undefined {
  return descr === '<f2' ? 2 : (NPY_DESCR_BYTES as Readonly<Record<string, number>>)[descr];
}

function readRawHeader(file: CheckpointFile, offset: number, length: number, where: string): RawNpyHeader {
  if (length < 10) throw new FormatError(`${where}: ${length} bytes is too short for a .npy header; truncated`);
  const pre = file.read(offset, 10, 'the .npy preamble');
  if (!NPY_MAGIC.every((b, i) => pre[i] === b)) throw new FormatError(`${where}: not a .npy array (no \\x93NUMPY magic)`);
  const major = pre[6]!;
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = pre[8]! | (pre[9]! << 8);
    start = 10;
  } else if (major === 2 || major === 3) {
    const b = file.read(offset + 8, 4, 'the .npy header length');
    headerLen = new DataView(b.buffer).getUint32(0, true);
    start = 12;
  } else {
    throw new FormatError(`${where}: .npy format version ${major} is not supported (1, 2 or 3)`);
  }
  if (headerLen > MAX_NPY_HEADER_BYTES) {
    throw new FormatError(`${where}: .npy header claims ${headerLen} bytes, over the ${MAX_NPY_HEADER_BYTES}-byte limit (numpy writes a few hundred); the file is corrupt`);
  }
  if (start + headerLen > length) throw new FormatError(`${where}: .npy header of ${headerLen} bytes runs past the ${length}-byte array; truncated`);
  const text = new TextDecoder('latin1').decode(file.read(offset + start, headerLen, 'the .npy header'));
  const descr = quoted(text, valueAt(text, 'descr'));
  const fortranAt = valueAt(text, 'fortran_order');
  const fortran = text.startsWith('True', fortranAt) ? 'True' : text.startsWith('False', fortranAt) ? 'False' : undefined;
  const shapeText = parenthesized(text, valueAt(text, 'shape'));
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new FormatError(`${where}: .npy header "${text.trim().slice(0, 80)}" is malformed`);
  const itemBytes = descrBytes(descr);
  if (itemBytes === undefined) throw new FormatError(`${where}: .npy dtype '${descr}' is not supported; supported: float32 (<f4), int64 (<i8), float16, float64`);
  if (fortran === 'True') throw new FormatError(`${where}: .npy array is in Fortran order; save it with np.ascontiguousarray first`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const d = Number(s.replace(/L$/, ''));
      if (!Number.isSafeInteger(d) || d < 0) throw new FormatError(`${where}: .npy shape (${shapeText}) is not a list of sizes`);
      return d;
    });
  const dataOffset = offset + start + headerLen;
  const need = numelOf(shape) * itemBytes;
  if (dataOffset + need > offset + length) {
    throw new FormatError(`${where}: shape (${shape.join(', ')}) of ${descr} needs ${need} bytes but only ${offset + length - dataOffset} follow the header; truncated`);
  }
  return { descr, shape, dataOffset };
}

function toArray(file: CheckpointFile, h: NpyHeader, where: string): NpyArray {
  const n = numelOf(h.shape);
  if (h.dtype === 'I64') {
    const out = new BigInt64Array(n);
    file.read(h.dataOffset, n * 8, where, new Uint8Array(out.buffer));
    return { data: out, shape: h.shape };
  }
  return { data: contiguousTensor(file, h.dtype, h.shape, h.dataOffset, where).toFloat32(), shape: h.shape };
}

/** Reads a .npy file: float32 (float16/64 converted) or int64. */
export function readNpy(path: string): NpyArray {
  const file = new CheckpointFile(path);
  try {
    return toArray(file, readHeader(file, 0, file.size, path), path);
  } finally {
    file.close();
  }
}

/** The .npy header numpy writes for this array (format 1.0). */
export function npyHeader(data: Float32Array | BigInt64Array, shape: readonly number[]): Uint8Array {
  if (numelOf(shape) !== data.length) throw new FormatError(`writeNpy: shape [${shape.join(', ')}] holds ${numelOf(shape)} values but data has ${data.length}`);
  return npyHeaderFor(data instanceof Float32Array ? '<f4' : '<i8', shape);
}

/** Element types writeNpz writes, by numpy's descr. */
export type NpyDescr = '<f4' | '<f8' | '<i8' | '|u1';
export const NPY_DESCR_BYTES: Readonly<Record<NpyDescr, number>> = { '<f4': 4, '<f8': 8, '<i8': 8, '|u1': 1 };

/** The .npy (format 1.0) header for an array of this type and shape. */
export function npyHeaderFor(descr: NpyDescr, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // numpy pads magic + length + header to a multiple of 64 and ends it with a newline.
  h += ' '.repeat(64 - ((10 + h.length + 1) % 64 || 64)) + '\n';
  const out = new Uint8Array(10 + h.length);
  out.set(NPY_MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  out[8] = h.length & 0xff;
  out[9] = h.length >> 8;
  for (let i = 0; i < h.length; i++) out[10 + i] = h.charCodeAt(i);
  return out;
}

/** One array of an .npz: its bytes (C order, little-endian) come in pieces, so it may exceed memory. */
export interface NpzArray {
  readonly name: string; // the key np.load gives it (arr_0)
  readonly descr: NpyDescr;
  readonly shape: readonly number[];
  readonly chunks: () => Iterable<Uint8Array>;
}

/** Writes an .npz as numpy.savez does (a zip of stored .npy entries), atomically. */
export function writeNpz(path: string, arrays: readonly NpzArray[], opts: { zip64?: boolean } = {}): void {
  const entries = arrays.map((a) => {
    const head = npyHeaderFor(a.descr, a.shape);
    return {
      name: `${a.name}.npy`,
      size: head.length + numelOf(a.shape) * NPY_DESCR_BYTES[a.descr],
      chunks: function* () {
        yield head;
        yield* a.chunks();
      },
    };
  });
  writeFileAtomic(path, (fd) => writeZip(fd, entries, opts));
}

/** Writes a .npy file (temp file + rename, so a reader never sees half an array). */
export function writeNpy(path: string, data: Float32Array | BigInt64Array, shape: readonly number[]): void {
  const head = npyHeader(data, shape);
  writeFileAtomic(path, (fd) => {
    writeAll(fd, head);
    writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  });
}

/** Lazy view of an .npz's float arrays (for openStateDict). */
export function npzTensors(file: CheckpointFile): Map<string, LazyTensor> {
  const zip = openZip(file);
  const out = new Map<string, LazyTensor>();
  for (const e of zip.entries.values()) {
    if (!e.name.endsWith('.npy')) continue;
    const where = `${file.path}:${e.name}`;
    const h = readHeader(file, zip.dataOffset(e), e.size, where);
    out.set(e.name.slice(0, -4), contiguousTensor(file, h.dtype, h.shape, h.dataOffset, where));
  }
  return out;
}

/**
 * The arrays of an .npz (numpy.savez: stored entries) located but not read: name (without .npy) →
 * dtype, shape and data offset, each checked to lie inside its entry. Callers check shapes and
 * dtypes before reading, so a hostile file costs its central directory and headers only.
 */
export function npzArrays(file: CheckpointFile): Map<string, RawNpyHeader> {
  const zip = openZip(file);
  const out = new Map<string, RawNpyHeader>();
  for (const e of zip.entries.values()) {
    if (!e.name.endsWith('.npy')) continue;
    out.set(e.name.slice(0, -4), readRawHeader(file, zip.dataOffset(e), e.size, `${file.path}:${e.name}`));
  }
  return out;
}
