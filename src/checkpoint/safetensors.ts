/**
 * safetensors: u64 little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}
 * (+ optional "__metadata__"), then raw little-endian data. Tensors are read lazily.
 */
import { FormatError } from '../errors.js';
import { DTYPE_BYTES, numelOf } from './dtype.js';
import { CheckpointFile, parseFile } from './file.js';
import { contiguousTensor } from './lazy.js';
import type { DType, LazyTensor, StateDict } from './types.js';

/** The safetensors project's own bound; a larger value is a corrupt or hostile file. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const SUPPORTED: readonly DType[] = ['F32', 'F16', 'BF16', 'F64', 'I64'];

export interface SafetensorsFile extends StateDict {
  readonly metadata: Readonly<Record<string, string>>;
}

export function readSafetensors(path: string): SafetensorsFile {
  return parseFile(path, parse);
}

function parse(file: CheckpointFile): SafetensorsFile {
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
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.read(8, n, 'the JSON header')));
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
  return { tensors, metadata, close: () => file.close() };
}
