/**
 * Writers for synthetic checkpoints, shared by tests and benchmarks: safetensors, stored zips and
 * .npz, PyTorch zip files (the pickle is written here by hand, so no PyTorch is needed), diffusers
 * folders, split-qkv forks, and random DiTs of any named shape. The project itself only reads
 * these formats; the writers live here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ditOutChannels, type DiTConfig } from '../../src/models/dit-config.js';
import { ditParameterShapes } from '../../src/models/dit-shapes.js';
import type { DType, NpyArray } from '../../src/checkpoint/index.js';
import { DTYPE_BYTES, numelOf } from '../../src/checkpoint/dtype.js';
import { writeAll, writeFileAtomic } from '../../src/atomic-write.js';
import { npyHeader } from '../../src/checkpoint/npy.js';
import { CENTRAL_SIG, EOCD_SIG, LOCAL_SIG, ZIP64_EOCD_SIG, ZIP64_LOCATOR_SIG } from '../../src/checkpoint/zip.js';

/** One tensor to write; `data` may be a function so a large file is produced tensor by tensor. */
export interface TensorToWrite {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: ArrayBufferView | (() => ArrayBufferView);
}

/** Writes a safetensors file (temp file + rename). */
export function writeSafetensors(path: string, entries: readonly TensorToWrite[], metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const e of entries) {
    const bytes = numelOf(e.shape) * DTYPE_BYTES[e.dtype];
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf-8');
  writeFileAtomic(path, (fd) => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(jsonBytes.length));
    writeAll(fd, len);
    writeAll(fd, jsonBytes);
    for (const e of entries) {
      const v = typeof e.data === 'function' ? e.data() : e.data;
      const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      const expected = numelOf(e.shape) * DTYPE_BYTES[e.dtype];
      if (bytes.length !== expected) throw new Error(`writeSafetensors: "${e.name}" has ${bytes.length} bytes, shape needs ${expected}`);
      writeAll(fd, bytes);
    }
  });
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

function npyBytes(data: Float32Array | BigInt64Array, shape: readonly number[]): Uint8Array {
  const head = npyHeader(data, shape);
  const out = new Uint8Array(head.length + data.byteLength);
  out.set(head, 0);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), head.length);
  return out;
}

/** Writes an .npz of stored (uncompressed) arrays, like numpy.savez. */
export function writeNpz(path: string, arrays: Readonly<Record<string, NpyArray>>): void {
  writeStoredZip(
    path,
    Object.entries(arrays).map(([name, a]) => ({ name: `${name}.npy`, data: () => npyBytes(a.data, a.shape) })),
  );
}

/** Rounds float32 values to the nearest half (ties to even) and returns the raw half bits. */
export function float32ToHalfBits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i]!;
    const x = u[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
    } else if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
      } else {
        const m = mant | 0x800000;
        const shift = 14 - e;
        let h = m >>> shift;
        const rem = m & ((1 << shift) - 1);
        const half = 1 << (shift - 1);
        if (rem > half || (rem === half && (h & 1))) h++;
        out[i] = sign | h;
      }
    } else {
      let h = (e << 10) | (mant >>> 13);
      const rem = mant & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
      out[i] = sign | h;
    }
  }
  return out;
}

/** A tensor for the torch writer: raw little-endian storage bytes plus the view on them. */
export interface TorchTensorSpec {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly stride?: readonly number[]; // default: contiguous
  readonly offset?: number; // storage offset, in elements
  readonly storageKey?: string; // share a storage between tensors by giving the same key
  readonly storageNumel: number;
  readonly storage: Uint8Array | (() => Uint8Array);
}

/** A Python value to pickle. Plain numbers are ints when integral; wrap floats as {float}. */
export type PickleValue =
  | null
  | boolean
  | number
  | string
  | { float: number }
  | { list: PickleValue[] }
  | { tuple: PickleValue[] }
  | { dict: Array<[PickleValue, PickleValue]>; ordered?: boolean }
  | { tensor: TorchTensorSpec }
  | { global: [string, string] }
  | { reduce: [string, string]; args: PickleValue[] }
  | { newobj: [string, string]; args: PickleValue[]; state?: PickleValue };

const STORAGE_NAMES: Record<DType, string> = { F32: 'FloatStorage', F16: 'HalfStorage', BF16: 'BFloat16Storage', F64: 'DoubleStorage', I64: 'LongStorage', I8: 'CharStorage' };

/** Pickles `root` (protocol 2, as torch.save) and collects the storages it names. */
export function picklePyTorch(root: PickleValue): { pickle: Uint8Array; storages: Map<string, TorchTensorSpec['storage']> } {
  const out: number[] = [];
  const storages = new Map<string, TorchTensorSpec['storage']>();
  let nextKey = 0;
  const bytes = (...b: number[]): void => void out.push(...b);
  const u32 = (n: number): void => bytes(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  const str = (s: string): void => {
    const b = Buffer.from(s, 'utf-8');
    bytes(0x58);
    u32(b.length);
    for (const x of b) out.push(x);
  };
  const global = (m: string, n: string): void => {
    bytes(0x63);
    for (const c of `${m}\n${n}\n`) out.push(c.charCodeAt(0));
  };
  const int = (n: number): void => {
    if (n >= 0 && n < 256) bytes(0x4b, n);
    else if (n >= 0 && n < 65536) bytes(0x4d, n & 0xff, n >> 8);
    else if (n >= -(2 ** 31) && n < 2 ** 31) {
      bytes(0x4a);
      u32(n >>> 0);
    } else {
      // LONG1 with 8 bytes, two's complement.
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(n));
      bytes(0x8a, 8, ...b);
    }
  };
  const tuple = (items: PickleValue[]): void => {
    bytes(0x28);
    for (const x of items) emit(x);
    bytes(0x74);
  };
  const emit = (v: PickleValue): void => {
    if (v === null) bytes(0x4e);
    else if (v === true) bytes(0x88);
    else if (v === false) bytes(0x89);
    else if (typeof v === 'number') {
      if (Number.isInteger(v)) int(v);
      else emit({ float: v });
    } else if (typeof v === 'string') str(v);
    else if ('float' in v) {
      const b = Buffer.alloc(8);
      b.writeDoubleBE(v.float);
      bytes(0x47, ...b);
    } else if ('list' in v) {
      bytes(0x5d, 0x28);
      for (const x of v.list) emit(x);
      bytes(0x65);
    } else if ('tuple' in v) tuple(v.tuple);
    else if ('dict' in v) {
      if (v.ordered) {
        global('collections', 'OrderedDict');
        bytes(0x29, 0x52);
      } else bytes(0x7d);
      bytes(0x28);
      for (const [k, x] of v.dict) {
        emit(k);
        emit(x);
      }
      bytes(0x75);
    } else if ('tensor' in v) {
      const t = v.tensor;
      const key = t.storageKey ?? String(nextKey++);
      if (!storages.has(key)) storages.set(key, t.storage);
      const stride = t.stride ?? contiguousStride(t.shape);
      global('torch._utils', '_rebuild_tensor_v2');
      bytes(0x28);
      // persistent id: ('storage', torch.XStorage, key, 'cpu', numel)
      bytes(0x28);
      str('storage');
      global('torch', STORAGE_NAMES[t.dtype]);
      str(key);
      str('cpu');
      int(t.storageNumel);
      bytes(0x74, 0x51);
      int(t.offset ?? 0);
      tuple(t.shape.map((d) => d));
      tuple(stride.map((d) => d));
      bytes(0x89);
      global('collections', 'OrderedDict');
      bytes(0x29, 0x52);
      bytes(0x74, 0x52);
    } else if ('global' in v) global(...v.global);
    else if ('reduce' in v) {
      global(...v.reduce);
      tuple(v.args);
      bytes(0x52);
    } else if ('newobj' in v) {
      global(...v.newobj);
      tuple(v.args);
      bytes(0x81);
      if (v.state !== undefined) {
        emit(v.state);
        bytes(0x62);
      }
    }
  };
  bytes(0x80, 2);
  emit(root);
  bytes(0x2e);
  return { pickle: Uint8Array.from(out), storages };
}

function contiguousStride(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

/** Writes a torch.save-style zip (`<archiveName>/data.pkl`, `data/<key>`, `version`), 64-byte aligned. */
export function writeTorchZip(file: string, root: PickleValue, opts: { archiveName?: string; forceZip64?: boolean } = {}): void {
  const name = opts.archiveName ?? 'archive';
  const { pickle, storages } = picklePyTorch(root);
  writeStoredZip(
    file,
    [
      { name: `${name}/data.pkl`, data: pickle },
      ...[...storages].map(([key, data]) => ({ name: `${name}/data/${key}`, data })),
      { name: `${name}/version`, data: Buffer.from('3\n') },
    ],
    { align: 64, forceZip64: opts.forceZip64 },
  );
}

/** A named float tensor, as tests hold them. */
export interface NamedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export function bytesOf(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** A tensor spec over float32 data converted to `dtype` (F32 or F16). */
function tensorSpec(t: { shape: readonly number[]; data: Float32Array }, dtype: 'F32' | 'F16' = 'F32'): TorchTensorSpec {
  return { dtype, shape: t.shape, storageNumel: t.data.length, storage: () => (dtype === 'F16' ? bytesOf(float32ToHalfBits(t.data)) : bytesOf(t.data)) };
}

/** torch.save(OrderedDict(state_dict)) of named float tensors. */
export function writeTorchStateDict(file: string, tensors: readonly NamedTensor[], opts: { dtype?: 'F32' | 'F16'; archiveName?: string } = {}): void {
  writeTorchZip(file, { dict: tensors.map((t) => [t.name, { tensor: tensorSpec(t, opts.dtype) }]), ordered: true }, { archiveName: opts.archiveName });
}

export function writeSafetensorsOf(file: string, tensors: readonly NamedTensor[]): void {
  writeSafetensors(
    file,
    tensors.map((t) => ({ name: t.name, dtype: 'F32', shape: t.shape, data: t.data })),
  );
}

/** Splits a [3D, ...] qkv tensor into q, k, v along dim 0. */
function splitQkv(t: NamedTensor): [Float32Array, Float32Array, Float32Array] {
  const n = t.data.length / 3;
  return [t.data.subarray(0, n), t.data.subarray(n, 2 * n), t.data.subarray(2 * n)];
}

/** The official names rewritten as diffusers' Transformer2DModel stores them (convert_dit_to_diffusers). */
function toDiffusersLayout(tensors: readonly NamedTensor[], depth: number): NamedTensor[] {
  const out: NamedTensor[] = [];
  const get = (n: string): NamedTensor => tensors.find((t) => t.name === n)!;
  const as = (name: string, t: NamedTensor, data = t.data, shape = t.shape): void => void out.push({ name, shape, data });
  as('pos_embed.proj.weight', get('x_embedder.proj.weight'));
  as('pos_embed.proj.bias', get('x_embedder.proj.bias'));
  for (let i = 0; i < depth; i++) {
    const b = `transformer_blocks.${i}.`;
    for (const wb of ['weight', 'bias']) {
      as(`${b}norm1.emb.timestep_embedder.linear_1.${wb}`, get(`t_embedder.mlp.0.${wb}`));
      as(`${b}norm1.emb.timestep_embedder.linear_2.${wb}`, get(`t_embedder.mlp.2.${wb}`));
      as(`${b}norm1.linear.${wb}`, get(`blocks.${i}.adaLN_modulation.1.${wb}`));
      const qkv = get(`blocks.${i}.attn.qkv.${wb}`);
      const parts = splitQkv(qkv);
      ['q', 'k', 'v'].forEach((x, j) => as(`${b}attn1.to_${x}.${wb}`, qkv, parts[j], [qkv.shape[0]! / 3, ...qkv.shape.slice(1)]));
      as(`${b}attn1.to_out.0.${wb}`, get(`blocks.${i}.attn.proj.${wb}`));
      as(`${b}ff.net.0.proj.${wb}`, get(`blocks.${i}.mlp.fc1.${wb}`));
      as(`${b}ff.net.2.${wb}`, get(`blocks.${i}.mlp.fc2.${wb}`));
    }
    as(`${b}norm1.emb.class_embedder.embedding_table.weight`, get('y_embedder.embedding_table.weight'));
  }
  for (const wb of ['weight', 'bias']) {
    as(`proj_out_1.${wb}`, get(`final_layer.adaLN_modulation.1.${wb}`));
    as(`proj_out_2.${wb}`, get(`final_layer.linear.${wb}`));
  }
  return out;
}

/** Writes a diffusers pipeline folder (transformer/ weights + config, model_index.json with id2label). */
export function writeDiffusersFolder(dir: string, tensors: readonly NamedTensor[], config: DiTConfig, labels: readonly string[]): void {
  fs.mkdirSync(path.join(dir, 'transformer'), { recursive: true });
  writeSafetensorsOf(path.join(dir, 'transformer', 'diffusion_pytorch_model.safetensors'), toDiffusersLayout(tensors, config.depth));
  const transformerConfig = {
    _class_name: 'Transformer2DModel',
    num_attention_heads: config.num_heads,
    attention_head_dim: config.hidden_size / config.num_heads,
    in_channels: config.in_channels,
    out_channels: ditOutChannels(config),
    num_layers: config.depth,
    sample_size: config.input_size,
    patch_size: config.patch_size,
    num_embeds_ada_norm: config.num_classes,
    norm_type: 'ada_norm_zero',
  };
  fs.writeFileSync(path.join(dir, 'transformer', 'config.json'), JSON.stringify(transformerConfig, null, 2));
  const id2label = Object.fromEntries(labels.map((l, i) => [String(i), l]));
  fs.writeFileSync(path.join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'DiTPipeline', id2label }, null, 2));
}

export type SplitQkvNaming = 'to_q' | 'q' | 'q_proj' | 'in_proj';

/** The attention renamings that forks replacing timm's Attention write. */
export function toSplitQkvLayout(tensors: readonly NamedTensor[], naming: SplitQkvNaming): NamedTensor[] {
  const out: NamedTensor[] = [];
  for (const t of tensors) {
    const m = /^(blocks\.\d+\.attn\.)(qkv|proj)\.(weight|bias)$/.exec(t.name);
    if (!m) {
      out.push(t);
      continue;
    }
    const [, pre, what, wb] = m as unknown as [string, string, string, string];
    if (what === 'proj') {
      const name = naming === 'in_proj' ? `${pre}out_proj.${wb}` : naming === 'to_q' ? `${pre}to_out.0.${wb}` : naming === 'q_proj' ? `${pre}o_proj.${wb}` : `${pre}proj.${wb}`;
      out.push({ ...t, name });
    } else if (naming === 'in_proj') {
      out.push({ ...t, name: `${pre}in_proj_${wb}` });
    } else {
      const parts = splitQkv(t);
      ['q', 'k', 'v'].forEach((x, j) => {
        const name = naming === 'to_q' ? `${pre}to_${x}.${wb}` : naming === 'q' ? `${pre}${x}.${wb}` : `${pre}${x}_proj.${wb}`;
        out.push({ name, shape: [t.shape[0]! / 3, ...t.shape.slice(1)], data: parts[j]! });
      });
    }
  }
  return out;
}

/** A fast seeded generator (xorshift32) for synthetic weights; values in [-0.05, 0.05). */
export function fillRandom(out: Float32Array, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 0.1;
  }
  return out;
}

/** A random DiT of any config as lazily generated tensors (each made when the writer asks for it). */
export function syntheticDiT(config: DiTConfig, dtype: 'F32' | 'F16' = 'F32', seed = 1): TensorToWrite[] {
  return [...ditParameterShapes(config)].map(([name, shape], i) => ({
    name,
    dtype,
    shape,
    data: () => {
      const f = fillRandom(new Float32Array(shape.reduce((a, b) => a * b, 1)), seed + i);
      return dtype === 'F16' ? float32ToHalfBits(f) : f;
    },
  }));
}

/** The same synthetic DiT as a torch.save zip, storage by storage. */
export function writeSyntheticTorch(file: string, tensors: readonly TensorToWrite[]): void {
  writeTorchZip(file, {
    dict: tensors.map((t) => {
      const numel = t.shape.reduce((a, b) => a * b, 1);
      const spec: TorchTensorSpec = {
        dtype: t.dtype,
        shape: t.shape,
        storageNumel: numel,
        storage: () => {
          const v = typeof t.data === 'function' ? t.data() : t.data;
          return bytesOf(v);
        },
      };
      return [t.name, { tensor: spec }] as [PickleValue, PickleValue];
    }),
    ordered: true,
  });
}

/** diffusers VAE names (new naming) → original LDM names, attention projections as 1×1 convs. */
export function toLdmVaeLayout(tensors: readonly NamedTensor[], levels: number, prefix = 'first_stage_model.'): NamedTensor[] {
  const attn: Record<string, string> = { group_norm: 'norm', to_q: 'q', to_k: 'k', to_v: 'v', 'to_out.0': 'proj_out' };
  return tensors.map((t) => {
    let name = t.name;
    let shape = t.shape;
    let m: RegExpExecArray | null;
    const res = (s: string): string => s.replace(/^conv_shortcut\./, 'nin_shortcut.');
    if ((m = /^(encoder|decoder)\.conv_norm_out\.(.+)$/.exec(name))) name = `${m[1]}.norm_out.${m[2]}`;
    else if ((m = /^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name))) name = `encoder.down.${m[1]}.block.${m[2]}.${res(m[3]!)}`;
    else if ((m = /^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$/.exec(name))) name = `encoder.down.${m[1]}.downsample.conv.${m[2]}`;
    else if ((m = /^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name))) name = `decoder.up.${levels - 1 - Number(m[1])}.block.${m[2]}.${res(m[3]!)}`;
    else if ((m = /^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$/.exec(name))) name = `decoder.up.${levels - 1 - Number(m[1])}.upsample.conv.${m[2]}`;
    else if ((m = /^(encoder|decoder)\.mid_block\.resnets\.(\d)\.(.+)$/.exec(name))) name = `${m[1]}.mid.block_${Number(m[2]) + 1}.${res(m[3]!)}`;
    else if ((m = /^(encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(weight|bias)$/.exec(name))) {
      name = `${m[1]}.mid.attn_1.${attn[m[2]!]}.${m[3]}`;
      if (m[2] !== 'group_norm' && m[3] === 'weight') shape = [...shape, 1, 1];
    }
    return { name: prefix + name, shape, data: t.data };
  });
}
