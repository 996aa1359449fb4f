/**
 * Hostile and broken inputs: every one must end in a DitError (FormatError or UsageError) with a
 * message naming the problem — never another exception, a hang, or a large allocation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectDiTCheckpoint, openStateDict, readNpy } from '../../src/checkpoint/index.js';
import { DitError, FormatError } from '../../src/errors.js';
import { bytesOf, picklePyTorch, writeStoredZip, writeTorchZip, type PickleValue } from '../helpers/checkpoint-writers.js';
import { ditTiny, tempDir } from '../helpers/fixtures.js';
import { readAll } from './fuzz-cases.js';

const tmp = tempDir();
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let counter = 0;

function file(bytes: Uint8Array | string, name = `f${counter++}.bin`): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, bytes);
  return f;
}

function expectFormatError(f: string, message: RegExp): void {
  let err: unknown;
  try {
    readAll(f);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FormatError);
  expect((err as Error).message).toMatch(message);
}

/** A torch zip whose data.pkl is `pickle` (raw bytes) with the given storages. */
function torchZipWithPickle(pickle: Uint8Array, storages: Array<[string, Uint8Array]> = []): string {
  const f = path.join(tmp, `p${counter++}.pt`);
  writeStoredZip(f, [{ name: 'archive/data.pkl', data: pickle }, ...storages.map(([k, d]) => ({ name: `archive/data/${k}`, data: d }))]);
  return f;
}

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));
const tensor = (shape: number[], numel: number, extra: Partial<{ offset: number; stride: number[] }> = {}): PickleValue => ({
  tensor: { dtype: 'F32', shape, storageNumel: numel, storage: bytesOf(new Float32Array(numel)), ...extra },
});

describe('truncated files', () => {
  const pt = fs.readFileSync(ditTiny('model.pt'));
  const st = fs.readFileSync(ditTiny('model.safetensors'));
  for (const [name, bytes, cut] of [
    ['model.pt, last 10 bytes cut', pt, pt.length - 10],
    ['model.pt, half', pt, pt.length >> 1],
    ['model.pt, 100 bytes', pt, 100],
    ['model.safetensors, half', st, st.length >> 1],
    ['model.safetensors, 5 bytes', st, 5],
  ] as const) {
    it(name, () => expectFormatError(file(bytes.subarray(0, cut)), /truncated|too short|end of file|not a recognised/));
  }
});

describe('wrong magic and unsupported files name what they are', () => {
  it.each([
    ['empty', new Uint8Array(0), /is empty; supported: \.safetensors, PyTorch checkpoints from torch\.save/],
    ['random bytes', Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff), /not a recognised checkpoint \(first bytes 0b 30 55 7a/],
    ['legacy torch.save cut after its magic number', Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]), /\(legacy torch\.save\): pickle ends early/],
    ['bare pickle', Uint8Array.from([0x80, 0x04, 0x4b, 0x01, 0x2e]), /bare Python pickle/],
    ['Git LFS pointer', 'version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 2700000000\n', /Git LFS pointer.*git lfs pull/],
    ['HTML error page', '<!DOCTYPE html><html>Not Found</html>', /text file \(HTML or JSON/],
    ['gzip', Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0]), /gzip-compressed/],
  ])('%s', (_, bytes, message) => expectFormatError(file(bytes), message));

  it('a single .npy is not a checkpoint', () => {
    expectFormatError(ditTiny('forward.x.npy'), /single NumPy \.npy array, not a checkpoint/);
  });

  it('a zip that is neither torch nor npz', () => {
    const f = path.join(tmp, 'other.zip');
    writeStoredZip(f, [{ name: 'readme.txt', data: Uint8Array.from(ascii('hi')) }]);
    expectFormatError(f, /zip archive but neither a PyTorch checkpoint \(no data\.pkl\) nor an \.npz \(entries: readme\.txt\)/);
  });

  it('a truncated .npy', () => {
    const bytes = fs.readFileSync(ditTiny('forward.x.npy'));
    expect(() => readNpy(file(bytes.subarray(0, 200)))).toThrow(/needs 3072 bytes but only 72 follow the header; truncated/);
  });
});

describe('pickles that would run code', () => {
  it.each([
    ['os', 'system'],
    ['posix', 'system'],
    ['builtins', 'eval'],
    ['builtins', 'getattr'],
    ['subprocess', 'Popen'],
    ['torch', 'load'],
  ])('REDUCE of %s.%s is refused by name', (module, name) => {
    const { pickle } = picklePyTorch({ dict: [['w', { reduce: [module, name], args: ['echo pwned'] }]] });
    expectFormatError(torchZipWithPickle(pickle), new RegExp(`the pickle calls ${module}\\.${name}, which is not allowed .*may be malicious`));
  });

  it('STACK_GLOBAL (protocol 4) + REDUCE, INST and OBJ are calls too', () => {
    const stackGlobal = Uint8Array.from([0x80, 4, 0x8c, 2, ...ascii('os'), 0x8c, 6, ...ascii('system'), 0x93, 0x8c, 2, ...ascii('ls'), 0x85, 0x52, 0x2e]);
    expectFormatError(torchZipWithPickle(stackGlobal), /calls os\.system/);
    const inst = Uint8Array.from([0x80, 2, 0x28, 0x58, 2, 0, 0, 0, ...ascii('ls'), 0x69, ...ascii('os\nsystem\n'), 0x2e]);
    expectFormatError(torchZipWithPickle(inst), /calls os\.system/);
    const obj = Uint8Array.from([0x80, 2, 0x28, 0x63, ...ascii('builtins\nexec\n'), 0x58, 1, 0, 0, 0, ...ascii('1'), 0x6f, 0x2e]);
    expectFormatError(torchZipWithPickle(obj), /calls builtins\.exec/);
  });

  it('the copyreg extension registry and out-of-band buffers are refused', () => {
    expectFormatError(torchZipWithPickle(Uint8Array.from([0x80, 2, 0x82, 1, 0x2e])), /extension registry/);
    expectFormatError(torchZipWithPickle(Uint8Array.from([0x80, 5, 0x97, 0x2e])), /out-of-band buffers/);
  });

  it('a class that is only instantiated (NEWOBJ) or named stays inert data', () => {
    const { pickle, storages } = picklePyTorch({
      dict: [
        ['w', tensor([2], 2)],
        ['args', { newobj: ['os', 'system'], args: ['rm -rf /'], state: { dict: [['x', 1]] } }],
        ['ref', { global: ['builtins', 'eval'] }],
      ],
    });
    const f = torchZipWithPickle(pickle, [...storages].map(([k, v]) => [k, typeof v === 'function' ? v() : v]));
    const sd = openStateDict(f);
    expect([...sd.tensors.keys()]).toEqual(['w']);
    sd.close();
  });

  it('malformed pickles: memo miss, stack underflow, unknown opcode, truncated', () => {
    expectFormatError(torchZipWithPickle(Uint8Array.from([0x80, 2, 0x68, 7, 0x2e])), /memo entry 7 used before it was stored/);
    expectFormatError(torchZipWithPickle(Uint8Array.from([0x80, 2, 0x74, 0x2e])), /MARK missing/);
    expectFormatError(torchZipWithPickle(Uint8Array.from([0x80, 2, 0x85, 0x2e])), /stack underflow/);
    expectFormatError(torchZipWithPickle(Uint8Array.from([0x80, 2, 0xff, 0x2e])), /opcode 0xff is unknown/);
    expectFormatError(torchZipWithPickle(Uint8Array.from([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f])), /ends early: 2147483647 more bytes needed/);
  });
});

describe('PyTorch zip structure', () => {
  it('a storage missing from the archive', () => {
    const { pickle } = picklePyTorch({ dict: [['w', tensor([4], 4)]] });
    expectFormatError(torchZipWithPickle(pickle), /storage "0" \(archive\/data\/0\) is missing from the archive/);
  });

  it('a storage shorter than its declared element count', () => {
    const { pickle } = picklePyTorch({ dict: [['w', tensor([4], 1_000_000_000)]] });
    expectFormatError(torchZipWithPickle(pickle, [['0', new Uint8Array(16)]]), /declares 1000000000 elements of 4 bytes but its entry holds 16 bytes/);
  });

  it('views outside their storage, huge shapes, expanded views', () => {
    const cases: Array<[PickleValue, RegExp]> = [
      [tensor([4], 4, { offset: 3 }), /reaches element 6 of a storage with 4 elements/],
      [tensor([100000, 100000], 4), /reaches element 9999999999 of a storage with 4 elements/],
      [tensor([1000000], 4, { stride: [0] }), /1000000 elements over a storage of 4 \(an expanded view\)/],
      [tensor([2], 4, { stride: [-1] }), /negative stride/],
    ];
    for (const [value, message] of cases) {
      const { pickle, storages } = picklePyTorch({ dict: [['w', value]] });
      expectFormatError(torchZipWithPickle(pickle, [...storages].map(([k, v]) => [k, typeof v === 'function' ? v() : v])), message);
    }
  });

  it('a compressed (deflated) entry', () => {
    const f = path.join(tmp, 'deflate.pt');
    writeTorchZip(f, { dict: [['w', tensor([2], 2)]] });
    const b = fs.readFileSync(f);
    // Mark every entry as deflated (method 8) in the central directory.
    for (let i = b.length - 22; i >= 0; i--) if (b.readUInt32LE(i) === 0x02014b50) b.writeUInt16LE(8, i + 10);
    fs.writeFileSync(f, b);
    expectFormatError(f, /entry "archive\/data\.pkl" is compressed \(method 8\); only stored \(uncompressed\) entries are supported/);
  });

  it('a central directory pointing past the end of the file', () => {
    const b = Buffer.from(fs.readFileSync(ditTiny('model.pt')));
    b.writeUInt32LE(0x7fffffff, b.length - 22 + 16);
    expectFormatError(file(b), /central directory .* runs past the end of the .*file: truncated/);
  });
});

describe('safetensors headers', () => {
  const header = (h: unknown, dataBytes = 16, len?: bigint): Uint8Array => {
    const json = Buffer.from(JSON.stringify(h));
    const out = Buffer.alloc(8 + json.length + dataBytes);
    out.writeBigUInt64LE(len ?? BigInt(json.length));
    json.copy(out, 8);
    return out;
  };
  it.each([
    ['overlapping offsets', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, /tensors "a" and "b" overlap \(bytes 4\.\.8\)/],
    ['offsets past the data', { a: { dtype: 'F32', shape: [8], data_offsets: [0, 32] } }, /data_offsets \[0, 32\] run past the 16 data bytes/],
    ['size ≠ shape × itemsize', { a: { dtype: 'F16', shape: [3], data_offsets: [0, 8] } }, /spans 8 bytes but shape \[3\] of F16 needs 6/],
    ['an unsupported dtype, by name', { a: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, /dtype "F8_E4M3"; supported: F32, F16, BF16, F64, I64/],
    ['a negative shape', { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, /shape \[-1\]; expected a list of non-negative integers/],
    ['an entry that is not an object', { a: 5 }, /header entry "a" is not an object/],
  ])('%s', (_, h, message) => expectFormatError(file(header(h)), message));

  it('a huge header length (2^63) is refused before any allocation', () => {
    expectFormatError(file(header({}, 16, 1n << 63n)), /header length 9223372036854775808 exceeds the 104857600-byte limit/);
  });

  it('a header length larger than the file', () => {
    expectFormatError(file(header({}, 0, 5000n)), /header length 5000 exceeds the 2 bytes after it/);
  });

  it('a header that is not JSON', () => {
    expectFormatError(file(header({}, 0, 2n).fill(0x7b, 8)), /not valid UTF-8 JSON/);
  });
});

describe('fuzz: random byte mutations of the fixtures', () => {
  /** mulberry32: a tiny seeded generator so a failure reproduces. */
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  for (const [name, rounds] of [
    ['model.pt', 250],
    ['fp16.pt', 100],
    ['model.safetensors', 250],
  ] as const) {
    it(`${name}: ${rounds} mutants each load or throw a DitError`, () => {
      const original = fs.readFileSync(ditTiny(name));
      const random = rng(name.length * 7919);
      const outcomes = { loaded: 0, refused: 0 };
      const started = Date.now();
      for (let round = 0; round < rounds; round++) {
        const b = Buffer.from(original);
        const region = random();
        // Most damage where the structure lives: the header / pickle at the start, the zip directory at the end.
        const pick = (): number =>
          region < 0.5 ? Math.floor(random() * Math.min(6000, b.length)) : region < 0.8 ? b.length - 1 - Math.floor(random() * Math.min(4000, b.length)) : Math.floor(random() * b.length);
        const n = 1 + Math.floor(random() * 6);
        for (let i = 0; i < n; i++) b[pick()] = Math.floor(random() * 256);
        const cut = random() < 0.15 ? Math.floor(random() * b.length) : b.length;
        const f = path.join(tmp, `fuzz-${name}`);
        fs.writeFileSync(f, b.subarray(0, cut));
        try {
          readAll(f);
          const info = inspectDiTCheckpoint(f);
          for (const t of info.weights.tensors.values()) t.toFloat32();
          info.weights.close();
          outcomes.loaded++;
        } catch (err) {
          if (!(err instanceof DitError)) throw new Error(`round ${round}: ${String((err as Error).stack ?? err)}`);
          outcomes.refused++;
        }
      }
      expect(outcomes.loaded + outcomes.refused).toBe(rounds);
      expect(outcomes.refused).toBeGreaterThan(rounds / 10);
      expect(Date.now() - started).toBeLessThan(30_000);
    });
  }
});
