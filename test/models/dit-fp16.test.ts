/**
 * fp16 DiT graphs: float16 conversion, which values are float16, the forward against the fixture's
 * official output and against fp32 on the embedded model (CPU, and WebGPU where an adapter exists:
 * Mesa lavapipe in CI), the compiled cache, and an fp16 checkpoint's values reaching the graph as stored.
 *
 * Tolerances come from measurements on these same inputs (ONNX Runtime 1.30; bench/fidelity.ts and
 * src/models/fp16.ts give the numbers for other inputs). float16 keeps 11 significant bits (unit
 * roundoff u = 2^-11 ≈ 4.9e-4), so a forward through a few dozen rounded products lands at a small
 * multiple of u and does not depend on the CPU or GPU much beyond that; each bound is ≈ 3× the
 * measurement, and each measured value sits far above fp32's own error (< 1e-5 on the same fixture),
 * so the tests also show that fp16 really ran.
 * - dit-tiny against the official output: CPU 4.05e-4, WebGPU (float16 arithmetic, lavapipe) 9.6e-4;
 * - embedded model against fp32, 8 inputs: CPU 2.3e-4, WebGPU 1.15e-3.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bytesToFloat32 } from '../../src/checkpoint/dtype.js';
import { loadDiTCheckpoint } from '../../src/checkpoint/index.js';
import { UsageError } from '../../src/errors.js';
import { toFloat16, toHalfBits, type Graph } from '../../src/graph/index.js';
import type { DiTDtype } from '../../src/models/dit-config.js';
import { buildDiTGraph, type DiTConfig } from '../../src/models/dit.js';
import { DEFAULT_FP16_FP32_PARTS, halfWeight } from '../../src/models/fp16.js';
import { createDiTSession, deviceFailure } from '../../src/runtime/index.js';
import { cachedTinyDiT, embeddedErrorAgainstFp32 } from '../helpers/dit-sessions.js';
import { FIXTURE_DIR, forwardCase, readSafetensorsF32, relativeError } from './dit-fixture.js';

const config = JSON.parse(readFileSync(path.join(FIXTURE_DIR, 'config.json'), 'utf8')) as DiTConfig;
const sd = readSafetensorsF32(path.join(FIXTURE_DIR, 'model.safetensors'));
const weights = (name: string) => sd.get(name)!.data;
const dir = mkdtempSync(path.join(tmpdir(), 'dit-fp16-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const webgpuProblem = await deviceFailure('webgpu');
const requireWebgpu = process.env.DIT_REQUIRE_WEBGPU === '1';
const withWebgpu = webgpuProblem === undefined || requireWebgpu;
const devices = withWebgpu ? (['cpu', 'webgpu'] as const) : (['cpu'] as const);
/** An initializer by its name without the graph's scopes (`blocks.0/attn/blocks.0.attn.proj.weight`). */
const init = (g: Graph, name: string) => g.initializers.find((i) => i.name.split('/').at(-1) === name);
const checkWebgpu = (device: string) => {
  if (device === 'webgpu' && webgpuProblem !== undefined) throw new Error(`DIT_REQUIRE_WEBGPU=1 but WebGPU is not usable here: ${webgpuProblem}`);
};

describe('float16 conversion', () => {
  it('rounds to nearest, ties to even, with subnormals, overflow to infinity and NaN', () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff],
      [65519.99, 0x7bff], [65520, 0x7c00], [1e10, 0x7c00], [-Infinity, 0xfc00],
      [1 + 2 ** -11, 0x3c00], // a tie: stays on the even 1.0
      [1 + 3 * 2 ** -11, 0x3c02], // a tie: goes up to the even neighbour
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above a tie
      [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -24, 0x0002], [2 ** -14, 0x0400], [2 ** -14 - 2 ** -25, 0x0400],
    ];
    for (const [v, bits] of cases) expect(toHalfBits(v), String(v)).toBe(bits);
    expect(toHalfBits(NaN) & 0x7c00).toBe(0x7c00);
    expect(toHalfBits(NaN) & 0x3ff).not.toBe(0);
  });

  it('gives back the bits of every finite float16 value from its float32 (the checkpoint reader decodes)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const decoded = bytesToFloat32(new Uint8Array(all.buffer), 'F16');
    const again = toFloat16(decoded);
    const finite = [...all].filter((h) => (h & 0x7c00) !== 0x7c00);
    expect(finite.filter((h) => again[h] !== h)).toEqual([]);
  });

  it('gives, in bulk, the same bits as toHalfBits value by value (random bit patterns and the edges of the fast path)', () => {
    const n = 1 << 18;
    const bits = new Uint32Array(n);
    let seed = 12345;
    for (let i = 0; i < n; i++) bits[i] = seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; // every exponent, NaN and Inf included
    const edges = [2 ** -14, 2 ** -14 - 2 ** -25, 2 ** -14 * (1 - 2 ** -24), 65504, 65519.99, 65520, 65536, -65519.99, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2047.5, 2048.5, 0, -0];
    const data = Float32Array.from([...new Float32Array(bits.buffer), ...edges]);
    const bulk = toFloat16(data);
    const mismatches = [...data].map((v, i) => [v, bulk[i], toHalfBits(v)]).filter(([, a, b]) => a !== b && !(Number.isNaN(a) && Number.isNaN(b)));
    expect(mismatches.filter(([v]) => !Number.isNaN(v))).toEqual([]);
    // NaN stays NaN (its payload aside).
    expect([...data].every((v, i) => !Number.isNaN(v) || ((bulk[i]! & 0x7c00) === 0x7c00 && (bulk[i]! & 0x3ff) !== 0))).toBe(true);
  });

  it('refuses a weight beyond float16 range, naming it', () => {
    // 65505 rounds to 65504, a finite half: still beyond the range, still refused.
    expect(() => halfWeight('w', Float32Array.from([65504, -65505]))).toThrow(/"w" holds -65505/);
    expect(() => halfWeight('w', Float32Array.from([Infinity]))).toThrow(/"w" holds Infinity/);
    expect(Array.from(halfWeight('w', Float32Array.from([65504, -65504, NaN])).slice(0, 2))).toEqual([0x7bff, 0xfbff]);
    expect(() => halfWeight('blocks.0.mlp.fc1.weight', Float32Array.from([1, -70000]))).toThrow(UsageError);
    expect(() => halfWeight('blocks.0.mlp.fc1.weight', Float32Array.from([1, -70000]))).toThrow(/"blocks\.0\.mlp\.fc1\.weight" holds -70000, beyond float16's ±65504.*--dtype fp32/);
  });
});

describe('fp16 DiT graph', () => {
  it('keeps inputs and output float32, the default parts in fp32 and every block linear in float16', () => {
    expect(DEFAULT_FP16_FP32_PARTS).toEqual(['sinusoids', 'embed', 'final']);
    const g = buildDiTGraph(config, weights, { dtype: 'fp16' });
    expect([...g.inputs, ...g.outputs].map((v) => v.dtype)).toEqual(['float32', 'float32', 'int64', 'float32']);
    const typeOf = (name: string) => init(g, name)?.dtype;
    for (const b of [0, config.depth - 1]) {
      for (const w of ['attn.qkv.weight[0:64]', 'attn.proj.weight', 'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'adaLN_modulation.1.weight']) {
        expect(typeOf(`blocks.${b}.${w}`), w).toBe('float16');
      }
    }
    for (const w of ['x_embedder.proj.weight', 'pos_embed', 't_embedder.mlp.0.weight', 'y_embedder.embedding_table.weight', 'final_layer.linear.weight']) expect(typeOf(w), w).toBe('float32');
    expect(typeOf('final_layer.adaLN_modulation.1.weight')).toBe('float16');
    // Keeping every part in fp32 leaves only the block linears (and their biases) in float16.
    const all = buildDiTGraph(config, weights, { dtype: 'fp16', fp16KeepFp32: ['sinusoids', 'embed', 'adaLN', 'norm', 'attention', 'residual', 'final'] });
    const half = all.initializers.filter((i) => i.dtype === 'float16').map((i) => i.name.split('/').at(-1)!.replace(/^blocks\.\d+\./, ''));
    expect(new Set(half)).toEqual(new Set(['attn.qkv.weight[0:64]', 'attn.qkv.weight[64:128]', 'attn.qkv.weight[128:192]', 'attn.qkv.bias[0:64]', 'attn.qkv.bias[64:128]', 'attn.qkv.bias[128:192]', 'attn.proj.weight', 'attn.proj.bias', 'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias']));
  });

  it('stores the weights in float16, rounded to nearest (the folded attention scale included)', () => {
    const g = buildDiTGraph(config, weights, { dtype: 'fp16' });
    const bits = (name: string) => init(g, name)!.data() as Uint16Array;
    expect(Array.from(bits('blocks.1.mlp.fc2.weight'))).toEqual(Array.from(toFloat16(weights('blocks.1.mlp.fc2.weight'))));
    const scale = (config.hidden_size / config.num_heads) ** -0.5;
    const q = weights('blocks.0.attn.qkv.weight').slice(0, 64 * 64).map((v) => v * scale);
    expect(Array.from(bits('blocks.0.attn.qkv.weight[0:64]'))).toEqual(Array.from(toFloat16(q)));
  });

  it('passes an fp16 checkpoint\'s values into the graph bit for bit', () => {
    const half = loadDiTCheckpoint(path.join(FIXTURE_DIR, 'fp16.pt'));
    try {
      const t = half.weights.tensors.get('blocks.0.mlp.fc1.weight')!;
      expect(t.dtype).toBe('F16');
      const g = buildDiTGraph(half.config, half.weights, { dtype: 'fp16' });
      const got = init(g, 'blocks.0.mlp.fc1.weight')!.data() as Uint16Array;
      expect(Array.from(got)).toEqual(Array.from(toFloat16(weights('blocks.0.mlp.fc1.weight'))));
    } finally {
      half.weights.close();
    }
  });

  for (const device of devices) {
    it(`${device}: the dit-tiny forward is within ${device === 'cpu' ? '1.5e-3' : '3e-3'} of the official output`, async () => {
      checkWebgpu(device);
      const fc = forwardCase();
      const s = await createDiTSession({ config, weights }, { device, dtype: 'fp16' });
      const err = relativeError(await s.run(fc.x.data, fc.t, fc.y, 3), fc.out.data);
      await s.release();
      expect(err).toBeLessThan(device === 'cpu' ? 1.5e-3 : 3e-3);
      expect(err).toBeGreaterThan(1e-5); // fp32 is below 1e-5 here: fp16 ran
    });

    it(`${device}: the embedded model (trained weights) is within ${device === 'cpu' ? '7e-4' : '3.5e-3'} of fp32`, async () => {
      checkWebgpu(device);
      const err = await embeddedErrorAgainstFp32('fp16', device);
      expect(err).toBeLessThan(device === 'cpu' ? 7e-4 : 3.5e-3);
      expect(err).toBeGreaterThan(1e-5);
    });
  }

  it('caches fp16 graphs apart from fp32 and q8 ones and reloads them', async () => {
    const { cacheDir, open: openWith } = cachedTinyDiT(dir, config, weights);
    const open = (dtype: DiTDtype) => openWith({ dtype });
    const fp16 = await open('fp16');
    expect(fp16.fromCache).toBe(false);
    const again = await open('fp16');
    expect(again.fromCache).toBe(true);
    expect(Array.from(again.out)).toEqual(Array.from(fp16.out));
    expect((await open('fp32')).fromCache).toBe(false);
    expect((await open('q8')).fromCache).toBe(false);
    expect((await open('fp16')).fromCache).toBe(true);
    const entries = readdirSync(cacheDir).filter((d) => d.startsWith('dit-'));
    expect(entries).toHaveLength(3);
    // The fp16 entry holds about half the fp32 entry's weight bytes.
    const dataBytes = (d: string) => readdirSync(path.join(cacheDir, d)).filter((f) => f.endsWith('.data')).reduce((s, f) => s + readFileSync(path.join(cacheDir, d, f)).byteLength, 0);
    const sizes = entries.map(dataBytes).sort((a, b) => a - b);
    expect(sizes[1]! / sizes[2]!).toBeGreaterThan(0.45);
    expect(sizes[1]! / sizes[2]!).toBeLessThan(0.6);
  });
});
