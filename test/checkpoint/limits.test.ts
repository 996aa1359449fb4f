/**
 * Inputs built to be slow, deep or huge for a parser (issue 14, items 1 and 2): each must end in a
 * one-line FormatError within a time bound, never a hang, a stack overflow or a TypeError.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectDiTCheckpoint, openStateDict, readNpy, readSafetensors } from '../../src/checkpoint/index.js';
import { FormatError } from '../../src/errors.js';
import { writeStoredZip } from '../helpers/checkpoint-writers.js';
import { tempDir } from '../helpers/fixtures.js';

const tmp = tempDir();
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let counter = 0;

/** Runs `f`, which must throw a FormatError matching `message` within `ms` milliseconds. */
function expectQuickFormatError(f: () => unknown, message: RegExp, ms = 2000): void {
  const t0 = performance.now();
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  const elapsed = performance.now() - t0;
  expect(err).toBeInstanceOf(FormatError);
  expect((err as Error).message).toMatch(message);
  expect((err as Error).message.split('\n')).toHaveLength(1);
  expect(elapsed).toBeLessThan(ms);
}

/** Pickle opcodes, written as bytes; enough to build the hostile pickles below. */
class Ops {
  private readonly out: number[] = [];
  op(...b: number[]): this {
    for (const x of b) this.out.push(x);
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf-8');
    this.op(0x58, b.length & 0xff, (b.length >> 8) & 0xff, (b.length >> 16) & 0xff, b.length >>> 24);
    for (const x of b) this.out.push(x);
    return this;
  }
  global(m: string, n: string): this {
    this.op(0x63);
    for (const c of `${m}\n${n}\n`) this.out.push(c.charCodeAt(0));
    return this;
  }
  /** A float32 tensor of storage "0" with the given size/stride pushed by `sizes`. */
  tensor(sizes: (o: Ops) => void): this {
    this.global('torch._utils', '_rebuild_tensor_v2').op(0x28);
    this.op(0x28).str('storage').global('torch', 'FloatStorage').str('0').str('cpu').op(0x4b, 16, 0x74, 0x51);
    this.op(0x4b, 0);
    sizes(this);
    return this.op(0x89).global('collections', 'OrderedDict').op(0x29, 0x52, 0x74, 0x52);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** A torch zip whose data.pkl is `pickle`, with one 64-byte storage "0". */
function torchZip(pickle: Uint8Array): string {
  const f = path.join(tmp, `p${counter++}.pt`);
  writeStoredZip(f, [
    { name: 'archive/data.pkl', data: pickle },
    { name: 'archive/data/0', data: new Uint8Array(64) },
  ]);
  return f;
}

function openAndClose(f: string): void {
  openStateDict(f).close();
}

describe('pickle', () => {
  it('a 1 MB LONG4 is refused at once (it was built byte by byte: minutes)', () => {
    const n = 1 << 20;
    const head = new Ops().op(0x80, 2, 0x8b, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24).bytes();
    const pickle = new Uint8Array(head.length + n + 1);
    pickle.set(head, 0);
    pickle.fill(0x7f, head.length, head.length + n);
    pickle[pickle.length - 1] = 0x2e;
    expectQuickFormatError(() => openAndClose(torchZip(pickle)), /integer of 1048576 bytes is longer than the 64 bytes/);
  });

  it('a LONG1 of 9 bytes still reads (sizes beyond 2^63 exist in no checkpoint, but the format allows them)', () => {
    // {'x': LONG1(9 bytes)} has no tensors: the error names the top level, so the integer was read.
    const p = new Ops().op(0x80, 2, 0x7d).str('x').op(0x8a, 9, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0x73, 0x2e).bytes();
    expectQuickFormatError(() => openAndClose(torchZip(p)), /holds no float tensors \(top level: x\)/);
  });

  it('a text INT of 100k digits is refused', () => {
    const p = new Ops().op(0x80, 2, 0x49, ...Buffer.from(`${'9'.repeat(100_000)}\n`), 0x2e).bytes();
    expectQuickFormatError(() => openAndClose(torchZip(p)), /INT "9{20}" is not a number of at most 155 digits/);
  });

  it('APPENDS of 200k items gives a one-line error, not a stack overflow', () => {
    const o = new Ops().op(0x80, 2, 0x5d, 0x28);
    for (let i = 0; i < 200_000; i++) o.op(0x4b, 1);
    const p = o.op(0x65, 0x2e).bytes();
    expectQuickFormatError(() => openAndClose(torchZip(p)), /holds no float tensors/);
  });

  it('a _rebuild_from_type_v2 whose argument list contains itself (memo) is refused, not recursed forever', () => {
    const p = new Ops()
      .op(0x80, 2)
      .global('torch._tensor', '_rebuild_from_type_v2')
      .op(0x71, 0) // BINPUT 0: the function
      .op(0x5d, 0x71, 1) // EMPTY_LIST, BINPUT 1: the argument list
      .op(0x28, 0x68, 0, 0x4e, 0x68, 1, 0x4e, 0x65) // MARK fn None list None APPENDS: list = [fn, None, list, None]
      .op(0x52, 0x2e)
      .bytes();
    expectQuickFormatError(() => openAndClose(torchZip(p)), /_rebuild_from_type_v2 nested more than 4 deep/);
  });

  it('a tensor size list that contains itself gives a FormatError showing it, not a TypeError from JSON.stringify', () => {
    const p = new Ops()
      .op(0x80, 2, 0x7d)
      .str('w')
      .tensor((o) => o.op(0x5d, 0x71, 5, 0x28, 0x68, 5, 0x65).op(0x28, 0x4b, 1, 0x74))
      .op(0x73, 0x2e)
      .bytes();
    expectQuickFormatError(() => openAndClose(torchZip(p)), /tensor size must be a tuple of integers, got \[\[\[…\]\]\]/);
  });

  it('150k block keys give an "implausible block index" problem, not a stack overflow in Math.max', () => {
    // x_embedder (4, 1, 2, 2): hidden 4, a multiple of 4 as the position table needs, so the block index is the problem found.
    const o = new Ops().op(0x80, 2, 0x7d, 0x28).str('x_embedder.proj.weight');
    o.tensor((x) => x.op(0x28, 0x4b, 4, 0x4b, 1, 0x4b, 2, 0x4b, 2, 0x74, 0x28, 0x4b, 4, 0x4b, 4, 0x4b, 2, 0x4b, 1, 0x74)).op(0x71, 9);
    for (let i = 0; i < 150_000; i++) o.str(`blocks.${i}.attn.qkv.bias`).op(0x68, 9);
    const f = torchZip(o.op(0x75, 0x2e).bytes());
    const t0 = performance.now();
    const info = inspectDiTCheckpoint(f);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(info.problems.join('\n')).toMatch(/block index 149999 is implausible \(at most 1023\)/);
  });
});

/** A safetensors file with `json` as its header and no data. */
function safetensors(json: string): string {
  const f = path.join(tmp, `s${counter++}.safetensors`);
  const body = Buffer.from(json, 'utf-8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(body.length));
  fs.writeFileSync(f, Buffer.concat([len, body]));
  return f;
}

describe('safetensors header', () => {
  it('more than 100,000 header entries are refused before JSON.parse', () => {
    const entries = Array.from({ length: 100_001 }, (_, i) => `"k${i}":""`).join(',');
    expectQuickFormatError(() => readSafetensors(safetensors(`{"__metadata__":{${entries}}}`)).close(), /the header has more than 100000 entries/);
  });

  it('100,000 entries (the limit) still read', () => {
    const entries = Array.from({ length: 99_999 }, (_, i) => `"k${i}":"v"`).join(',');
    const st = readSafetensors(safetensors(`{"__metadata__":{${entries}}}`));
    expect(Object.keys(st.metadata)).toHaveLength(99_999);
    st.close();
  });

  it('colons inside strings are not counted as entries', () => {
    const st = readSafetensors(safetensors(`{"__metadata__":{"a":"${':'.repeat(200_000)}\\":"}}`));
    expect(st.metadata.a).toHaveLength(200_002);
    st.close();
  });

  it('nesting deeper than 16 levels is refused', () => {
    expectQuickFormatError(() => readSafetensors(safetensors(`{"__metadata__":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`)).close(), /nests deeper than 16 levels/);
  });
});

/** A .npy file of format version 2 with `header` (padded to end in a newline) and `data`. */
function npyV2(header: string, data: Uint8Array = new Uint8Array(0)): string {
  const f = path.join(tmp, `n${counter++}.npy`);
  const h = Buffer.from(`${header}\n`, 'latin1');
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0, 0, 0, 0]);
  pre.writeUInt32LE(h.length, 8);
  fs.writeFileSync(f, Buffer.concat([pre, h, data]));
  return f;
}

describe('.npy header', () => {
  it("a 1 MB header repeating 'shape': ( without ) is refused at once (regex backtracking took 30 s)", () => {
    const text = `{'descr': '<f4', 'fortran_order': False, ${"'shape': (".repeat(100_000)}`;
    expectQuickFormatError(() => readNpy(npyV2(text)), /\.npy header "\{'descr': '<f4'.*" is malformed/);
  });

  it('a header over 1 MiB is refused even when it is well formed', () => {
    const text = `{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }${' '.repeat(1 << 20)}`;
    expectQuickFormatError(() => readNpy(npyV2(text, new Uint8Array(4))), /\.npy header claims 1048634 bytes, over the 1048576-byte limit/);
  });

  it('a header with spaces and newlines around the colons still reads', () => {
    const a = readNpy(npyV2(`{ 'descr' :\t'<f4' , 'fortran_order' :  False, 'shape' : ( 2 , ) }`, new Uint8Array(new Float32Array([1.5, -2]).buffer)));
    expect(a.shape).toEqual([2]);
    expect([...a.data]).toEqual([1.5, -2]);
  });
});
