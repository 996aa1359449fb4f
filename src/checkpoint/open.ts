/**
 * openStateDict: one entry point for every weights file, recognised by its first bytes (never by
 * its extension, which downloads and forks get wrong).
 */
import { FormatError } from '../errors.js';
import { CheckpointFile, parseFile, type ByteSource } from './file.js';
import { NPY_MAGIC, npzTensors } from './npy.js';
import { PickleObject } from './pickle.js';
import { parseSafetensors } from './safetensors.js';
import { isLazyTensor, readTorchLegacy, readTorchZip, UnsupportedTensor, type TorchFile } from './torch.js';
import type { LazyTensor, StateDict } from './types.js';
import { openZip } from './zip.js';

export type CheckpointFormat = 'safetensors' | 'pytorch-zip' | 'pytorch-legacy' | 'npz';

export interface OpenedStateDict extends StateDict {
  readonly path: string;
  readonly format: CheckpointFormat;
  /** Which entry of a training checkpoint holds the weights ('ema', 'model', ...), if any. */
  readonly container: string | undefined;
  /** Top-level entries that were not used (optimizer state, args...). */
  readonly ignored: readonly string[];
  /** train.py's argparse.Namespace (model, image_size, num_classes...) when the file has one. */
  readonly trainArgs: Readonly<Record<string, unknown>> | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly warnings: readonly string[];
}

const SUPPORTED = 'supported: .safetensors, PyTorch checkpoints from torch.save (.pt/.pth/.bin/.ckpt; zip, and the legacy format of PyTorch < 1.6), .npz';

/** Entries of a train.py-style checkpoint that hold weights, most preferred first (train.py samples with EMA). */
const WEIGHT_CONTAINERS = ['ema', 'model', 'state_dict', 'model_state_dict', 'module', 'net', 'params'];

export function openStateDict(from: string | ByteSource): OpenedStateDict {
  return parseFile(from, openFile);
}

function openFile(file: CheckpointFile): OpenedStateDict {
  const head = file.read(0, Math.min(file.size, 512), 'the first bytes');
  const base = { path: file.path, close: () => file.close(), metadata: {}, trainArgs: undefined, container: undefined, ignored: [], warnings: [] };
  if (head[0] === 0x50 && head[1] === 0x4b && (head[2] === 0x03 || head[2] === 0x05)) {
    const zip = openZip(file);
    const names = [...zip.entries.keys()];
    if (names.some((n) => /^([^/]*\/)?data\.pkl$/.test(n))) return fromTorch(file, base, readTorchZip(file), 'pytorch-zip');
    if (names.length > 0 && names.every((n) => n.endsWith('.npy'))) return { ...base, format: 'npz', tensors: npzTensors(file) };
    throw new FormatError(
      `${file.path} is a zip archive but neither a PyTorch checkpoint (no data.pkl) nor an .npz (entries: ${names.slice(0, 5).join(', ')}); ${SUPPORTED}`,
    );
  }
  if (isLegacyTorch(head)) return fromTorch(file, base, readTorchLegacy(file), 'pytorch-legacy');
  if (file.size >= 10 && head[8] === 0x7b /* '{' */) {
    const st = parseSafetensors(file);
    return { ...base, close: st.close, format: 'safetensors', tensors: st.tensors, metadata: st.metadata };
  }
  throw new FormatError(`${file.path} is ${describeUnknown(head, file.size)}; ${SUPPORTED}`);
}

/** torch.save before 1.6 pickled its magic number 0x1950a86a20f9469cfc6c first (protocol 2, LONG1 of 10 bytes). */
function isLegacyTorch(head: Uint8Array): boolean {
  return head[0] === 0x80 && head[1] === 0x02 && head[2] === 0x8a && head[3] === 0x0a && [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19].every((b, i) => head[4 + i] === b);
}

/** Names what an unsupported file most likely is, so the user knows what to convert. */
function describeUnknown(head: Uint8Array, size: number): string {
  const ascii = new TextDecoder('latin1').decode(head);
  if (size === 0) return 'empty';
  if (NPY_MAGIC.every((b, i) => head[i] === b)) return 'a single NumPy .npy array, not a checkpoint (save a dict of arrays with numpy.savez, or use safetensors)';
  if (head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) {
    return 'a bare Python pickle, not a PyTorch checkpoint: it is not supported (and unsafe to load); re-save it with torch.save or convert it to safetensors';
  }
  if (ascii.startsWith('version https://git-lfs')) return 'a Git LFS pointer, not the weights: fetch the real file (git lfs pull) or download it directly';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip-compressed: decompress it first';
  if (ascii.slice(257, 262) === 'ustar') return 'a tar archive (the pre-1.0 torch.save tar format or a bundle): extract or re-save it';
  if (ascii.startsWith('\x89HDF')) return 'an HDF5 (.h5, Keras) file';
  if (ascii.startsWith('GGUF')) return 'a GGUF file';
  if (/^\s*(<|\{|\[)/.test(ascii)) return 'a text file (HTML or JSON — perhaps an error page saved instead of the download)';
  const hex = [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `not a recognised checkpoint (first bytes ${hex})`;
}

type Base = Omit<OpenedStateDict, 'format' | 'tensors'>;

function fromTorch(file: CheckpointFile, base: Base, torch: TorchFile, format: 'pytorch-zip' | 'pytorch-legacy'): OpenedStateDict {
  const { root } = torch;
  const warnings: string[] = [];
  let container: string | undefined;
  let trainArgs: Record<string, unknown> | undefined;
  const ignored: string[] = [];
  let dict: Map<unknown, unknown> | undefined;
  if (root instanceof Map) {
    if (hasTensors(root)) {
      dict = root;
    } else {
      for (const key of WEIGHT_CONTAINERS) {
        const v = root.get(key);
        if (v instanceof Map && hasTensors(v)) {
          dict = v;
          container = key;
          break;
        }
      }
      for (const k of root.keys()) if (k !== container) ignored.push(String(k));
      const args = root.get('args');
      if (args instanceof PickleObject && args.state instanceof Map) {
        trainArgs = Object.fromEntries([...args.state].filter(([k]) => typeof k === 'string') as Array<[string, unknown]>);
      }
    }
  }
  const tensors = new Map<string, LazyTensor>();
  const visit = (v: unknown, name: string, depth: number, seen: Set<unknown>): void => {
    if (isLazyTensor(v)) {
      tensors.set(name, v);
    } else if (v instanceof UnsupportedTensor) {
      warnings.push(`tensor "${name}" uses torch.${v.storageType}, which is not converted; it was left out`);
    } else if (v instanceof Map && depth < 8 && !seen.has(v)) {
      seen.add(v);
      for (const [k, x] of v) visit(x, name ? `${name}.${String(k)}` : String(k), depth + 1, seen);
    }
  };
  if (dict) {
    for (const [k, v] of dict) visit(v, String(k), 0, new Set([dict]));
  } else {
    // No recognised layout: take every tensor reachable through dicts, with dotted names.
    visit(root, '', 0, new Set());
  }
  if (tensors.size === 0) {
    const keys = root instanceof Map ? [...root.keys()].map(String).slice(0, 8).join(', ') : typeof root;
    throw new FormatError(`${file.path}: the PyTorch checkpoint holds no float tensors (top level: ${keys}); expected a state dict or a train.py checkpoint with "ema"/"model"`);
  }
  return { ...base, format, tensors, container, ignored, trainArgs, warnings };
}

function hasTensors(m: Map<unknown, unknown>): boolean {
  for (const v of m.values()) if (isLazyTensor(v) || v instanceof UnsupportedTensor) return true;
  return false;
}
