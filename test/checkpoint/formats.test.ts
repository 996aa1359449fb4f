import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStateDict, readNpy, readSafetensors, writeNpy } from '../../src/checkpoint/index.js';
import { bytesOf, fillRandom, float32ToHalfBits, writeNpz, writeSafetensors, writeStoredZip, writeTorchZip } from '../helpers/checkpoint-writers.js';
import { ditTiny, tempDir } from '../helpers/fixtures.js';

const tmp = tempDir();
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function readAll(file: string): Map<string, { shape: readonly number[]; data: Float32Array; dtype: string }> {
  const sd = openStateDict(file);
  try {
    return new Map([...sd.tensors].map(([k, t]) => [k, { shape: t.shape, data: t.toFloat32(), dtype: t.dtype }]));
  } finally {
    sd.close();
  }
}

function halfRound(x: Float32Array): Float32Array {
  const bits = float32ToHalfBits(x);
  const sd = new Uint8Array(bits.buffer);
  // Decode through the same path the reader uses for F16 files.
  const out = new Float32Array(bits.length);
  const view = new DataView(sd.buffer);
  for (let i = 0; i < bits.length; i++) {
    const h = view.getUint16(2 * i, true);
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
    out[i] = h & 0x8000 ? -v : v;
  }
  return out;
}

describe('the dit-tiny fixture, five ways', () => {
  const ref = readAll(ditTiny('model.safetensors'));

  it('model.safetensors has the 32 official tensors with the shapes of config.json', () => {
    expect(ref.size).toBe(32);
    expect(ref.get('pos_embed')!.shape).toEqual([1, 16, 64]);
    expect(ref.get('blocks.1.attn.qkv.weight')!.shape).toEqual([192, 64]);
    expect(ref.get('y_embedder.embedding_table.weight')!.shape).toEqual([11, 64]);
  });

  for (const [file, strip] of [
    ['model.pt', ''],
    ['train-checkpoint.pt', ''],
    ['ddp.pt', 'module.'],
  ] as const) {
    it(`${file} gives bit-identical tensors`, () => {
      const got = readAll(ditTiny(file));
      expect([...got.keys()].map((k) => k.slice(strip.length))).toEqual([...ref.keys()]);
      for (const [k, t] of got) {
        const r = ref.get(k.slice(strip.length))!;
        expect(t.shape).toEqual(r.shape);
        expect(t.data).toEqual(r.data);
      }
    });
  }

  it('fp16.pt equals the float32 weights rounded to half precision (round to nearest even)', () => {
    const got = readAll(ditTiny('fp16.pt'));
    expect(got.size).toBe(32);
    for (const [k, t] of got) {
      expect(t.dtype).toBe('F16');
      expect(t.data).toEqual(halfRound(ref.get(k)!.data));
    }
  });

  it('train-checkpoint.pt uses ema and exposes the argparse.Namespace as inert data', () => {
    const sd = openStateDict(ditTiny('train-checkpoint.pt'));
    expect(sd.container).toBe('ema');
    expect(sd.ignored).toEqual(['model', 'opt', 'args']);
    expect(sd.trainArgs).toEqual({ model: 'custom', image_size: 64, num_classes: 10 });
    sd.close();
  });
});

describe('safetensors writer', () => {
  it('round-trips F32, F16, BF16, F64 and I64 tensors and metadata', () => {
    const f = path.join(tmp, 'rt.safetensors');
    const x = Float32Array.from([1.5, -2.25, 3e-5, 65504, -0]);
    const bf16 = new Uint16Array([0x3fc0, 0xc010, 0x0000, 0x7f80, 0x8000]); // 1.5, -2.25, 0, inf, -0
    writeSafetensors(
      f,
      [
        { name: 'a', dtype: 'F32', shape: [5], data: x },
        { name: 'h', dtype: 'F16', shape: [5], data: float32ToHalfBits(x) },
        { name: 'b', dtype: 'BF16', shape: [5, 1], data: bf16 },
        { name: 'd', dtype: 'F64', shape: [2], data: new Float64Array([0.1, -7]) },
        { name: 'i', dtype: 'I64', shape: [2], data: new BigInt64Array([3n, -4n]) },
      ],
      { format: 'pt' },
    );
    const sd = readSafetensors(f);
    expect(sd.metadata).toEqual({ format: 'pt' });
    expect(sd.tensors.get('a')!.toFloat32()).toEqual(x);
    expect(Array.from(sd.tensors.get('h')!.toFloat32())).toEqual([1.5, -2.25, 2.9981136322021484e-5, 65504, -0]);
    expect(Array.from(sd.tensors.get('b')!.toFloat32())).toEqual([1.5, -2.25, 0, Infinity, -0]);
    expect(sd.tensors.get('b')!.shape).toEqual([5, 1]);
    expect(Array.from(sd.tensors.get('d')!.toFloat32())).toEqual([Math.fround(0.1), -7]);
    expect(Array.from(sd.tensors.get('i')!.toFloat32())).toEqual([3, -4]);
    // The data area starts 8-byte aligned, as the reference writer makes it.
    expect(Number(fs.readFileSync(f).readBigUInt64LE(0)) % 8).toBe(0);
    sd.close();
  });

  it('reads int8 rows with their scales (X.weight + X.weight_scale) as code × scale in float32, under the int8 name only', () => {
    const f = path.join(tmp, 'q8.safetensors');
    const codes = Int8Array.from([127, -127, 0, 1, -3, 64, 5, -128]); // 2 rows of 4
    const scale = Float32Array.from([0.1, 3e-3]);
    writeSafetensors(f, [
      { name: 'l.weight', dtype: 'I8', shape: [2, 4], data: codes },
      { name: 'l.weight_scale', dtype: 'F16', shape: [2, 1], data: float32ToHalfBits(scale) },
      { name: 'l.bias', dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) },
    ]);
    const sd = readSafetensors(f);
    try {
      expect([...sd.tensors.keys()]).toEqual(['l.weight', 'l.bias']);
      const w = sd.tensors.get('l.weight')!;
      expect(w.dtype).toBe('I8');
      expect(w.shape).toEqual([2, 4]);
      const s = halfRound(scale);
      expect(Array.from(w.toFloat32())).toEqual(Array.from(codes, (c, i) => Math.fround(c * s[Math.floor(i / 4)]!)));
    } finally {
      sd.close();
    }
  });

  it('refuses int8 without its per-row scale, and a scale of another shape', () => {
    const f = path.join(tmp, 'q8-bad.safetensors');
    writeSafetensors(f, [{ name: 'l.weight', dtype: 'I8', shape: [2, 2], data: Int8Array.from([1, 2, 3, 4]) }]);
    expect(() => readSafetensors(f)).toThrow(/int8 tensor "l\.weight" has no float "l\.weight_scale"/);
    writeSafetensors(f, [
      { name: 'l.weight', dtype: 'I8', shape: [2, 2], data: Int8Array.from([1, 2, 3, 4]) },
      { name: 'l.weight_scale', dtype: 'F32', shape: [1, 2], data: Float32Array.from([1, 1]) },
    ]);
    expect(() => readSafetensors(f)).toThrow(/"l\.weight_scale" has shape \[1, 2\] but "l\.weight" \[2, 2\] needs one scale per row/);
  });
});

describe('PyTorch zip reader', () => {
  it('reads strided views (transpose, storage offset, shared storage) and a non-"archive" prefix', () => {
    const base = fillRandom(new Float32Array(24), 7);
    const storage = { storageKey: 's', storageNumel: 24, storage: () => bytesOf(base) } as const;
    const f = path.join(tmp, 'views.pt');
    writeTorchZip(
      f,
      {
        dict: [
          ['full', { tensor: { dtype: 'F32', shape: [4, 6], ...storage } }],
          // t() of the [4, 6] matrix: shape [6, 4], stride [1, 6]
          ['transposed', { tensor: { dtype: 'F32', shape: [6, 4], stride: [1, 6], ...storage } }],
          // rows 2..3: offset 12
          ['tail', { tensor: { dtype: 'F32', shape: [2, 6], offset: 12, ...storage } }],
          // every other column: stride [6, 2]
          ['columns', { tensor: { dtype: 'F32', shape: [4, 3], stride: [6, 2], offset: 1, ...storage } }],
        ],
        ordered: true,
      },
      { archiveName: 'my_weights' },
    );
    const t = readAll(f);
    expect(t.get('full')!.data).toEqual(base);
    const tr = t.get('transposed')!.data;
    for (let i = 0; i < 6; i++) for (let j = 0; j < 4; j++) expect(tr[i * 4 + j]).toBe(base[j * 6 + i]);
    expect(t.get('tail')!.data).toEqual(base.subarray(12));
    expect(Array.from(t.get('columns')!.data)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23].map((i) => base[i]));
  });

  it('reads zip64 archives', () => {
    const data = fillRandom(new Float32Array(10), 3);
    const f = path.join(tmp, 'z64.pt');
    writeTorchZip(f, { dict: [['w', { tensor: { dtype: 'F32', shape: [2, 5], storageNumel: 10, storage: bytesOf(data) } }]] }, { forceZip64: true });
    expect(readAll(f).get('w')!.data).toEqual(data);
  });

  it('picks "model" when a training checkpoint has no "ema", and keeps double and long tensors', () => {
    const f = path.join(tmp, 'train.pt');
    writeTorchZip(f, {
      dict: [
        ['model', { dict: [['w', { tensor: { dtype: 'F64', shape: [2], storageNumel: 2, storage: bytesOf(new Float64Array([0.5, 2])) } }], ['n', { tensor: { dtype: 'I64', shape: [], storageNumel: 1, storage: bytesOf(new BigInt64Array([9n])) } }]], ordered: true }],
        ['epoch', 3],
        ['lr', { float: 1e-4 }],
        ['args', { newobj: ['argparse', 'Namespace'], args: [], state: { dict: [['model', 'DiT-S/2']] } }],
      ],
    });
    const sd = openStateDict(f);
    expect(sd.container).toBe('model');
    expect(Array.from(sd.tensors.get('w')!.toFloat32())).toEqual([0.5, 2]);
    expect(Array.from(sd.tensors.get('n')!.toFloat32())).toEqual([9]);
    expect(sd.tensors.get('n')!.shape).toEqual([]);
    expect(sd.trainArgs).toEqual({ model: 'DiT-S/2' });
    sd.close();
  });
});

describe('npy / npz', () => {
  it('reads the fixture latents (float32, C order)', () => {
    const a = readNpy(ditTiny('forward.x.npy'));
    expect(a.data).toBeInstanceOf(Float32Array);
    expect(a.shape.reduce((x, y) => x * y, 1)).toBe(a.data.length);
    expect(a.data.length * 4 + 128).toBe(fs.statSync(ditTiny('forward.x.npy')).size);
  });

  it('round-trips float32 and int64, with the header numpy writes', () => {
    const f = path.join(tmp, 'a.npy');
    const x = fillRandom(new Float32Array(30), 5);
    writeNpy(f, x, [2, 3, 5]);
    const bytes = fs.readFileSync(f);
    expect(bytes.subarray(0, 6).toString('latin1')).toBe('\x93NUMPY');
    expect((10 + bytes.readUInt16LE(8)) % 64).toBe(0);
    // numpy 1.26 np.save writes exactly this 118-byte header for this shape.
    expect(bytes.toString('latin1', 10, 10 + bytes.readUInt16LE(8))).toBe(`{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 5), }${' '.repeat(55)}\n`);
    expect(readNpy(f)).toEqual({ data: x, shape: [2, 3, 5] });
    const g = path.join(tmp, 'b.npy');
    writeNpy(g, new BigInt64Array([1n, -2n, 2n ** 40n]), [3]);
    expect(readNpy(g)).toEqual({ data: new BigInt64Array([1n, -2n, 2n ** 40n]), shape: [3] });
    expect(() => writeNpy(g, new Float32Array(4), [3])).toThrow(/shape \[3\] holds 3 values but data has 4/);
  });

  it('round-trips an npz and opens it as a state dict', () => {
    const f = path.join(tmp, 'c.npz');
    const x = fillRandom(new Float32Array(6), 9);
    writeNpz(f, { x: { data: x, shape: [6] }, labels: { data: new BigInt64Array([207n, 360n]), shape: [2] } });
    const sd = openStateDict(f);
    expect(sd.format).toBe('npz');
    expect(sd.tensors.get('x')!.shape).toEqual([6]);
    expect(sd.tensors.get('x')!.toFloat32()).toEqual(x);
    expect([sd.tensors.get('labels')!.dtype, sd.tensors.get('labels')!.shape]).toEqual(['I64', [2]]);
    expect(sd.tensors.get('labels')!.toFloat32()).toEqual(new Float32Array([207, 360]));
    sd.close();
  });

  it('detects formats by content, not by extension', () => {
    const f = path.join(tmp, 'weights.bin');
    fs.copyFileSync(ditTiny('model.safetensors'), f);
    expect(openStateDict(f).format).toBe('safetensors');
    const g = path.join(tmp, 'weights.safetensors');
    fs.copyFileSync(ditTiny('model.pt'), g);
    expect(openStateDict(g).format).toBe('pytorch-zip');
  });

  it('the zip writer aligns data for torch-style 64-byte alignment', () => {
    const f = path.join(tmp, 'al.zip');
    writeStoredZip(f, [{ name: 'x/data/0', data: new Uint8Array([1, 2, 3]) }], { align: 64 });
    const b = fs.readFileSync(f);
    const start = 30 + b.readUInt16LE(26) + b.readUInt16LE(28);
    expect(start % 64).toBe(0);
    expect(Array.from(b.subarray(start, start + 3))).toEqual([1, 2, 3]);
  });
});
