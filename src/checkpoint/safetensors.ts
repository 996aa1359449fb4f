/**
 * safetensors: u64 little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}
 * (+ optional "__metadata__"), then raw little-endian data. Tensors are read lazily.
 */
import { FormatError } from '../errors.js';
import { DTYPE_BYTES, numelOf } from './dtype.js';
import { CheckpointFile, parseFile, type ByteSource } from './file.js';
import { contiguousTensor } from './lazy.js';
import type { DType, LazyTensor, StateDict } from './types.js';

/** The safetensors project's own bound; a larger value is a corrupt or hostile file. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/**
 * Most key-value pairs in the header, counted before JSON.parse (a tensor entry has four: its name,
 * dtype, shape, data_offsets). DiT-XL/2 has 675 tensors; an SD VAE about 250. A 100 MiB header of
 * 7 M tiny metadata entries took a minute and 4 GB to parse and copy.
 */
export const MAX_HEADER_ENTRIES = 100_000;
/** Deepest nesting of JSON objects and arrays in the header; a tensor entry needs 3. */
const MAX_HEADER_NESTING = 16;
const SUPPORTED: readonly DType[] = ['F32', 'F16', 'BF16', 'F64', 'I64', 'I8'];
/**
 * An int8 tensor `NAME` is stored weights quantized per row (dim 0; the embedded model's linear
 * layers, training/export.py --dtype q8): its float values are code × scale, with one scale per row
 * in `NAME` + SCALE_SUFFIX (F16/F32/BF16, shape [rows] or [rows, 1]), the compressed-tensors naming
 * (`x.weight` / `x.weight_scale`). Readers see the float tensor under `NAME` and no scale tensor.
 */
export const SCALE_SUFFIX = '_scale';

export interface SafetensorsFile extends StateDict {
  readonly metadata: Readonly<Record<string, string>>;
}

export function readSafetensors(from: string | ByteSource): SafetensorsFile {
  return parseFile(from, parseSafetensors);
}

/** The safetensors file open in `file` (which the result then owns). */
export function parseSafetensors(file: CheckpointFile): SafetensorsFile {
  const where = `${file.path} (safetensors)`;
  if (file.size < 8) throw new FormatError(`${where}: ${file.size} bytes is too short for a safetensors header; the file is truncated`);
  const lenBytes = file.read(0, 8, 'the header length');
  const headerLen = new DataView(lenBytes.buffer).getBigUint64(0, true);
  if (headerLen > BigInt(Math.min(MAX_HEADER_BYTES, file.size - 8))) {
    throw new FormatError(
      `${where}: header length ${headerLen} exceeds ${headerLen > BigInt(MAX_HEADER_BYTES) ? `the ${MAX_HEADER_BYTES}-byte limit` : `the ${file.size - 8} bytes after it`}: the file is truncated or not safetensors`,
    );
  }
  const n = Number(headerLen);
  const headerBytes = file.read(8, n, 'the JSON header');
  checkHeaderShape(headerBytes, where);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw new FormatError(`${where}: the header is not valid UTF-8 JSON (${(err as Error).message}); the file is corrupt`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new FormatError(`${where}: the header must be a JSON object of tensors`);
  }
  const dataStart = 8 + n;
  const dataSize = file.size - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, LazyTensor>();
  const spans: Array<[number, number, string]> = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry === 'object' && entry !== null) {
        for (const [k, v] of Object.entries(entry)) if (typeof v === 'string') metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) throw new FormatError(`${where}: header entry "${name}" is not an object`);
    if (typeof e.dtype !== 'string' || !(SUPPORTED as readonly string[]).includes(e.dtype)) {
      throw new FormatError(
        `${where}: tensor "${name}" has dtype ${JSON.stringify(e.dtype)}; supported: ${SUPPORTED.join(', ')}. Convert the checkpoint to float32, float16 or bfloat16`,
      );
    }
    const dtype = e.dtype as DType;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new FormatError(`${where}: tensor "${name}" has shape ${JSON.stringify(e.shape)}; expected a list of non-negative integers`);
    }
    const shape = e.shape as number[];
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]) {
      throw new FormatError(`${where}: tensor "${name}" has data_offsets ${JSON.stringify(offs)}; expected [begin, end] with 0 ≤ begin ≤ end`);
    }
    const [begin, end] = offs as [number, number];
    if (end > dataSize) {
      throw new FormatError(`${where}: tensor "${name}" data_offsets [${begin}, ${end}] run past the ${dataSize} data bytes: the file is truncated or corrupt`);
    }
    const numel = numelOf(shape);
    if (end - begin !== numel * DTYPE_BYTES[dtype]) {
      throw new FormatError(
        `${where}: tensor "${name}" spans ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${numel * DTYPE_BYTES[dtype]}: the header is corrupt`,
      );
    }
    spans.push([begin, end, name]);
    tensors.set(name, contiguousTensor(file, dtype, shape, dataStart + begin, `${where} tensor "${name}"`));
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < spans.length; i++) {
    const [b, , nm] = spans[i]!;
    const [, pe, pn] = spans[i - 1]!;
    if (b < pe) throw new FormatError(`${where}: tensors "${pn}" and "${nm}" overlap (bytes ${b}..${pe}): the header is corrupt`);
  }
  dequantizeRows(tensors, where);
  return { tensors, metadata, close: () => file.close() };
}

/** Replaces each int8 tensor and its per-row scale (SCALE_SUFFIX) by one tensor that reads as code × scale. */
function dequantizeRows(tensors: Map<string, LazyTensor>, where: string): void {
  for (const [name, codes] of [...tensors]) {
    if (codes.dtype !== 'I8') continue;
    const scaleName = name + SCALE_SUFFIX;
    const scale = tensors.get(scaleName);
    const rows = codes.shape[0] ?? 1;
    if (!scale || scale.dtype === 'I8' || scale.dtype === 'I64') {
      throw new FormatError(`${where}: int8 tensor "${name}" has no float "${scaleName}" (one scale per row): int8 weights are read only as quantized rows with their scales`);
    }
    if (codes.shape.length < 1 || numelOf(scale.shape) !== rows || scale.shape[0] !== rows) {
      throw new FormatError(`${where}: "${scaleName}" has shape [${scale.shape.join(', ')}] but "${name}" [${codes.shape.join(', ')}] needs one scale per row ([${rows}] or [${rows}, 1]): the file is corrupt`);
    }
    tensors.delete(scaleName);
    tensors.set(name, {
      dtype: 'I8',
      shape: codes.shape,
      toFloat32(): Float32Array {
        const out = codes.toFloat32();
        const s = scale.toFloat32();
        const perRow = rows === 0 ? 0 : out.length / rows;
        // code × scale in float32, as PyTorch's codes.float() * scale.float() (the product is exact in a double, rounded once).
        for (let r = 0, i = 0; r < rows; r++) {
          const sr = s[r]!;
          for (const end = i + perRow; i < end; i++) out[i] = out[i]! * sr;
        }
        return out;
      },
    });
  }
}

/**
 * One linear pass over the header's bytes that counts its key-value pairs and nesting outside
 * strings, so a header built to be slow or large to parse is refused before JSON.parse sees it.
 */
function checkHeaderShape(bytes: Uint8Array, where: string): void {
  let pairs = 0;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c) i++; // backslash: the next byte is escaped
      else if (b === 0x22) inString = false;
      continue;
    }
    if (b === 0x22) inString = true;
    else if (b === 0x3a && ++pairs > MAX_HEADER_ENTRIES) {
      throw new FormatError(`${where}: the header has more than ${MAX_HEADER_ENTRIES} entries; a checkpoint's header has a few thousand. The file is corrupt or hostile`);
    } else if ((b === 0x7b || b === 0x5b) && ++depth > MAX_HEADER_NESTING) {
      throw new FormatError(`${where}: the header nests deeper than ${MAX_HEADER_NESTING} levels; a checkpoint's header needs 3. The file is corrupt or hostile`);
    } else if (b === 0x7d || b === 0x5d) depth--;
  }
}
