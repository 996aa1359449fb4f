/**
 * PyTorch checkpoints saved by torch.save (≥ 1.6): a zip with `<name>/data.pkl` (the pickled object),
 * `<name>/data/<key>` (raw storages, little-endian) and `<name>/version`. The pickle names storages
 * through persistent ids ('storage', torch.FloatStorage, key, location, numel) and rebuilds
 * tensors with torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...).
 */
import { FormatError } from '../errors.js';
import { DTYPE_BYTES } from './dtype.js';
import type { CheckpointFile } from './file.js';
import { stridedTensor } from './lazy.js';
import { PickleGlobal, PickleObject, unpickleAt } from './pickle.js';
import type { DType, LazyTensor } from './types.js';
import { openZip } from './zip.js';

/** Pickles of real checkpoints are a few MB; a bigger one is corrupt or hostile. */
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;

const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
};

/** Storages we can bound-check but not convert (buffers a DiT or VAE never needs). */
const OTHER_STORAGE_BYTES: Readonly<Record<string, number>> = {
  IntStorage: 4,
  ShortStorage: 2,
  CharStorage: 1,
  ByteStorage: 1,
  BoolStorage: 1,
  ComplexFloatStorage: 8,
  ComplexDoubleStorage: 16,
  UntypedStorage: 1,
};

/** A tensor whose element type this project does not convert; it is reported, never read. */
export class UnsupportedTensor {
  constructor(
    readonly storageType: string,
    readonly shape: readonly number[],
  ) {}
}

export function isLazyTensor(v: unknown): v is LazyTensor {
  return typeof v === 'object' && v !== null && 'toFloat32' in v && 'dtype' in v && 'shape' in v;
}

interface Storage {
  readonly typeName: string;
  readonly dtype: DType | undefined;
  readonly numel: number;
  readonly fileOffset: number;
}

export interface TorchFile {
  /** The unpickled object: Maps for dicts, arrays for lists/tuples, LazyTensor for tensors. */
  readonly root: unknown;
  readonly archiveName: string;
}

/** How deep _rebuild_from_type_v2 may wrap another rebuild call. */
const MAX_REBUILD_NESTING = 4;

const ALLOWED_CALLS = [
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._tensor._rebuild_from_type_v2',
  'collections.OrderedDict',
  'builtins.dict',
  'builtins.list',
  'builtins.set',
  'builtins.frozenset',
  'builtins.tuple',
  'builtins.bytearray',
  '_codecs.encode',
  'torch.Size',
];

/**
 * Data constructors that appear in optimizer states and training arguments (numpy scalars, torch
 * devices). They are not executed: the result is an inert placeholder holding the arguments.
 */
const INERT_CALLS = new Set([
  'numpy.core.multiarray.scalar',
  'numpy._core.multiarray.scalar',
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.dtype',
  'torch.device',
  'argparse.Namespace',
  'pathlib.PosixPath',
  'pathlib.WindowsPath',
]);

/**
 * A short text of a pickled value for a message. Bounded in depth and items (not JSON.stringify):
 * a hostile pickle can make a list that contains itself through the memo.
 */
function preview(v: unknown, depth = 0): string {
  if (typeof v === 'bigint') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v);
  if (v === null || typeof v !== 'object') return String(v);
  if (Array.isArray(v)) {
    if (depth >= 2) return '[…]';
    const items = v.slice(0, 6).map((x) => preview(x, depth + 1));
    return `[${items.join(', ')}${v.length > 6 ? ', …' : ''}]`;
  }
  if (v instanceof PickleGlobal) return v.qualifiedName;
  if (v instanceof Map) return 'a dict';
  return 'an object';
}

function asNumberList(v: unknown, what: string, where: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x))) {
    throw new FormatError(`${where}: ${what} must be a tuple of integers, got ${preview(v)}`);
  }
  return v as number[];
}

export function readTorchZip(file: CheckpointFile): TorchFile {
  const zip = openZip(file);
  const pkl = [...zip.entries.keys()].filter((n) => /^([^/]*\/)?data\.pkl$/.test(n)).sort((a, b) => a.length - b.length)[0];
  if (pkl === undefined) {
    const names = [...zip.entries.keys()].slice(0, 5).join(', ');
    throw new FormatError(
      `${file.path}: a zip archive without <name>/data.pkl (entries: ${names}${zip.entries.size > 5 ? ', ...' : ''}), so not a PyTorch checkpoint; supported: torch.save files, .safetensors, .npz`,
    );
  }
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const where = `${file.path} (PyTorch zip)`;
  const byteorder = zip.entries.get(`${prefix}byteorder`);
  if (byteorder && byteorder.size < 16) {
    const bo = new TextDecoder().decode(file.read(zip.dataOffset(byteorder), byteorder.size, 'byteorder'));
    if (bo.trim() !== 'little') throw new FormatError(`${where}: saved on a ${bo.trim()}-endian machine; only little-endian checkpoints are supported`);
  }
  const pklEntry = zip.entries.get(pkl)!;
  if (pklEntry.size > MAX_PICKLE_BYTES) throw new FormatError(`${where}: data.pkl is ${pklEntry.size} bytes, over the ${MAX_PICKLE_BYTES}-byte limit; the file is corrupt`);
  const pickle = file.read(zip.dataOffset(pklEntry), pklEntry.size, 'data.pkl');
  const storageAt = (key: string, numel: number, itemsize: number): number => {
    const entry = zip.entries.get(`${prefix}data/${key}`);
    if (!entry) throw new FormatError(`${where}: storage "${key}" (${prefix}data/${key}) is missing from the archive: the file is incomplete or corrupt`);
    if (numel * itemsize > entry.size) {
      throw new FormatError(`${where}: storage "${key}" declares ${numel} elements of ${itemsize} bytes but its entry holds ${entry.size} bytes: corrupt`);
    }
    return zip.dataOffset(entry);
  };
  const root = unpickleAt(pickle, 0, torchHooks(file, where, storageAt), where).value;
  return { root, archiveName: prefix.replace(/\/$/, '') };
}

/** A storage a pickle names: its key, type and element count (legacy files place it after the pickle). */
interface StorageRecord {
  readonly key: string;
  readonly numel: number;
  readonly itemsize: number;
}

/**
 * The unpickler hooks of a torch.save pickle: storages through `storageAt` (key → file offset of
 * its data, checked to hold `numel` elements), tensors rebuilt lazily, containers as Maps/arrays,
 * every other call refused by name.
 */
function torchHooks(file: CheckpointFile, where: string, storageAt: (key: string, numel: number, itemsize: number) => number, seen?: Map<string, StorageRecord>) {
  const storages = new Map<string, Storage>();

  const persistentLoad = (pid: unknown): Storage => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
      throw new FormatError(`${where}: unknown persistent id ${String(Array.isArray(pid) ? pid[0] : pid)}; expected a ('storage', type, key, location, numel) record`);
    }
    const [, type, key, , numel, view] = pid as [string, unknown, unknown, unknown, unknown, unknown];
    if (!(type instanceof PickleGlobal) || type.module !== 'torch') throw new FormatError(`${where}: storage type ${describeGlobal(type)} is not a torch storage`);
    if (typeof key !== 'string') throw new FormatError(`${where}: storage key must be a string`);
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw new FormatError(`${where}: storage "${key}" has an invalid element count`);
    if (view !== undefined && view !== null) throw new FormatError(`${where}: storage "${key}" is a view of another storage (legacy view metadata), which is not supported; re-save the file with a current PyTorch`);
    const cached = storages.get(key);
    if (cached) return cached;
    const dtype = STORAGE_DTYPES[type.name];
    const itemsize = dtype ? DTYPE_BYTES[dtype] : OTHER_STORAGE_BYTES[type.name];
    if (itemsize === undefined) throw new FormatError(`${where}: unknown storage type torch.${type.name}; supported: ${Object.keys(STORAGE_DTYPES).join(', ')}`);
    seen?.set(key, { key, numel, itemsize });
    const s: Storage = { typeName: type.name, dtype, numel, fileOffset: storageAt(key, numel, itemsize) };
    storages.set(key, s);
    return s;
  };
  const rebuild = (args: unknown[]): LazyTensor | UnsupportedTensor => {
    const [storage, offset, size, stride] = args;
    if (!storage || typeof storage !== 'object' || !('fileOffset' in storage)) throw new FormatError(`${where}: _rebuild_tensor_v2 without a storage`);
    const s = storage as Storage;
    const shape = asNumberList(size, 'tensor size', where);
    const strides = asNumberList(stride, 'tensor stride', where);
    if (shape.length !== strides.length) throw new FormatError(`${where}: tensor size and stride differ in length`);
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) throw new FormatError(`${where}: storage offset must be an integer`);
    if (shape.some((d) => d < 0)) throw new FormatError(`${where}: negative tensor size [${shape.join(', ')}]`);
    if (!s.dtype) return new UnsupportedTensor(s.typeName, shape);
    return stridedTensor(file, s.dtype, s.fileOffset, s.numel, offset, shape, strides, `${where} tensor [${shape.join(', ')}]`);
  };

  const call = (fn: PickleGlobal, args: unknown[], depth = 0): unknown => {
    const name = fn.qualifiedName;
    switch (name) {
      case 'torch._utils._rebuild_tensor_v2':
      case 'torch._utils._rebuild_tensor':
        return rebuild(args);
      case 'torch._utils._rebuild_parameter':
      case 'torch._utils._rebuild_parameter_with_state':
        return args[0];
      case 'torch._tensor._rebuild_from_type_v2': {
        // (func, new_type, args, state): rebuild with func, drop the subclass (e.g. Parameter).
        const [inner, , innerArgs] = args;
        if (!(inner instanceof PickleGlobal) || !Array.isArray(innerArgs)) throw new FormatError(`${where}: malformed _rebuild_from_type_v2`);
        // torch nests it once (Parameter around a tensor); deeper nesting is a pickle whose argument
        // list refers to itself through the memo, which would recurse forever.
        if (depth >= MAX_REBUILD_NESTING) throw new FormatError(`${where}: _rebuild_from_type_v2 nested more than ${MAX_REBUILD_NESTING} deep (a self-referencing argument list); the file is corrupt or hostile`);
        return call(inner, innerArgs, depth + 1);
      }
      case 'collections.OrderedDict':
      case 'builtins.dict': {
        const m = new Map<unknown, unknown>();
        const items = args[0];
        if (Array.isArray(items)) for (const kv of items) if (Array.isArray(kv) && kv.length === 2) m.set(kv[0], kv[1]);
        return m;
      }
      case 'builtins.list':
      case 'builtins.set':
      case 'builtins.frozenset':
      case 'builtins.tuple':
      case 'torch.Size':
        return Array.isArray(args[0]) ? [...(args[0] as unknown[])] : [];
      case 'builtins.bytearray':
        return args[0] instanceof Uint8Array ? args[0] : new Uint8Array(0);
      case '_codecs.encode':
        // Protocol 2 pickles bytes as _codecs.encode(text, 'latin1').
        if (typeof args[0] === 'string' && (args[1] === 'latin1' || args[1] === 'latin-1')) return Uint8Array.from(args[0] as string, (c) => c.charCodeAt(0) & 0xff);
        throw new FormatError(`${where}: pickle calls _codecs.encode with encoding ${String(args[1])}; only latin1 is allowed`);
      default:
        if (INERT_CALLS.has(name)) return new PickleObject(fn, args);
        throw new FormatError(
          `${where}: the pickle calls ${name}, which is not allowed — this loader only rebuilds tensors and plain containers (${ALLOWED_CALLS.join(', ')}). The file may be malicious; do not torch.load it unless you trust its source`,
        );
    }
  };

  return { persistentLoad, call };
}

/** The first pickle of a legacy torch.save file: torch.serialization's MAGIC_NUMBER. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
/** Legacy storages: an int64 element count, then the data. */
const LEGACY_STORAGE_HEADER = 8;

/**
 * A legacy (PyTorch < 1.6, or `_use_new_zipfile_serialization=False`) torch.save file: pickles of
 * the magic number, the protocol version (1001) and sys_info, then the object (storages by
 * persistent id), then the list of storage keys, then each storage in that order as an int64
 * element count and its bytes. pytorch-fid's pt_inception-2015-12-05 weights are such a file.
 */
export function readTorchLegacy(file: CheckpointFile): TorchFile {
  const where = `${file.path} (legacy torch.save)`;
  const head = file.read(0, Math.min(file.size, MAX_PICKLE_BYTES), 'the pickles');
  const plain = { persistentLoad: (): never => { throw new FormatError(`${where}: a header pickle names a storage; the file is corrupt`); }, call: (fn: PickleGlobal): never => { throw new FormatError(`${where}: a header pickle calls ${fn.qualifiedName}; the file is corrupt`); } };
  const magic = unpickleAt(head, 0, plain, where);
  if (magic.value !== LEGACY_MAGIC) throw new FormatError(`${where}: the first pickle is not torch.save's magic number; not a legacy PyTorch file`);
  const protocol = unpickleAt(head, magic.end, plain, where);
  if (protocol.value !== 1001) throw new FormatError(`${where}: legacy protocol version ${String(protocol.value)} is not supported (1001)`);
  const sysInfo = unpickleAt(head, protocol.end, plain, where);
  if (sysInfo.value instanceof Map && sysInfo.value.get('little_endian') === false) throw new FormatError(`${where}: saved on a big-endian machine; only little-endian checkpoints are supported`);
  // The object is parsed twice: first to learn its storages (their data follows the key list),
  // then with their offsets known.
  const seen = new Map<string, StorageRecord>();
  const first = unpickleAt(head, sysInfo.end, torchHooks(file, where, () => 0, seen), where);
  const keys = unpickleAt(head, first.end, plain, where);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) throw new FormatError(`${where}: the storage key list is not a list of strings; the file is corrupt`);
  const offsets = new Map<string, number>();
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    const rec = seen.get(key);
    if (!rec) throw new FormatError(`${where}: storage "${key}" is listed but no tensor uses it; the file is corrupt`);
    const count = new DataView(file.read(pos, LEGACY_STORAGE_HEADER, `the size of storage "${key}"`).buffer).getBigInt64(0, true);
    if (count !== BigInt(rec.numel)) throw new FormatError(`${where}: storage "${key}" holds ${count} elements, its tensors declare ${rec.numel}; the file is corrupt`);
    offsets.set(key, pos + LEGACY_STORAGE_HEADER);
    pos += LEGACY_STORAGE_HEADER + rec.numel * rec.itemsize;
    if (pos > file.size) throw new FormatError(`${where}: storage "${key}" runs past the end of the ${file.size}-byte file; truncated (download it again)`);
  }
  const storageAt = (key: string): number => {
    const at = offsets.get(key);
    if (at === undefined) throw new FormatError(`${where}: storage "${key}" is missing from the key list; the file is corrupt`);
    return at;
  };
  const root = unpickleAt(head, sysInfo.end, torchHooks(file, where, storageAt), where).value;
  return { root, archiveName: '' };
}

function describeGlobal(v: unknown): string {
  return v instanceof PickleGlobal ? v.qualifiedName : typeof v;
}

