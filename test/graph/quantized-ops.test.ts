/** The builder's int8 ops: shape checks at build time, and ONNX Runtime's results on hand-computed cases. */
import { describe, expect, it } from 'vitest';
import { encodeModel, GraphBuilder, type Value } from '../../src/graph/index.js';
import { createSession } from '../../src/runtime/index.js';

async function run(build: (g: GraphBuilder, a: Value) => Value, a: Float32Array, dims: number[]): Promise<number[]> {
  const g = new GraphBuilder();
  g.output(build(g, g.input('a', 'float32', dims)), 'y');
  const s = await createSession(encodeModel(g.finish()), { threads: 1 });
  try {
    return Array.from((await s.run({ a: { type: 'float32', data: a, dims } })).y!.data);
  } finally {
    await s.release();
  }
}

describe('int8 ops', () => {
  it('DynamicQuantizeMatMul: 7-bit codes give exact sums even with every activation at its top code', async () => {
    // 64 ones quantize to code 255 (scale 1/255); weights 63 with scale 1/63 are 1: y = 64 (+ bias).
    // Full-range codes (127) came out at half on AVX2 here (int16 pair sums saturate), hence 7 bits.
    const k = 64;
    const y = await run((g, a) => g.dynamicQuantizeMatMul(a, g.initializer('w', 'int8', [k, 2], new Int8Array(2 * k).fill(63)), g.weight('s', [2], Float32Array.from([1 / 63, -2 / 63])), undefined, g.weight('b', [2], Float32Array.from([0.5, 0]))), new Float32Array(k).fill(1), [1, k]);
    expect(y[0]).toBeCloseTo(64.5, 4);
    expect(y[1]).toBeCloseTo(-128, 4);
  });

  it('MatMulNBits (8 bits, zero point 128) multiplies by Bᵀ block by block', async () => {
    // B row 0: codes 129 (= +1) × scale 0.5 over 16 values; row 1: codes 126 (= −2) × scale 2. A = 1..16.
    const k = 16;
    const codes = new Uint8Array(2 * k);
    codes.fill(129, 0, k);
    codes.fill(126, k);
    const a = Float32Array.from({ length: k }, (_, i) => i + 1); // sum 136
    const y = await run((g, x) => g.matMulNBits(x, g.initializer('w', 'uint8', [2, 1, k], codes), g.weight('s', [2], Float32Array.from([0.5, 2])), { K: k, N: 2, bits: 8, blockSize: k, accuracyLevel: 0 }), a, [1, k]);
    expect(y[0]).toBeCloseTo(68, 3);
    expect(y[1]).toBeCloseTo(-544, 2);
  });

  it('MatMulNBits (4 bits, zero point 8) reads two codes a byte, the first in the low nibble', async () => {
    // Row 0 alternates codes 9 (+1) and 6 (−2): byte 0x69; scale 0.5. Row 1: all 0 (−8), scale 0.25. A = 1..16.
    // y0 = 0.5 · (1·(1+3+…+15) − 2·(2+4+…+16)) = 0.5 · (64 − 144) = −40; y1 = 0.25 · −8 · 136 = −272.
    const k = 16;
    const codes = new Uint8Array(k).fill(0x69, 0, k / 2);
    const a = Float32Array.from({ length: k }, (_, i) => i + 1);
    for (const accuracyLevel of [1, 4]) {
      const y = await run((g, x) => g.matMulNBits(x, g.initializer('w', 'uint8', [2, 1, k / 2], codes), g.weight('s', [2], Float32Array.from([0.5, 0.25])), { K: k, N: 2, bits: 4, blockSize: k, accuracyLevel }), a, [1, k]);
      // Level 4 quantizes A to int8 per block (scale 16/127): within 0.5 %.
      expect(Math.abs(y[0]! + 40)).toBeLessThan(accuracyLevel === 1 ? 1e-4 : 0.2);
      expect(Math.abs(y[1]! + 272)).toBeLessThan(accuracyLevel === 1 ? 1e-3 : 1.4);
    }
  });

  it('DynamicQuantizeLinear + MatMulInteger: the integer product of the quantized operands', async () => {
    const y = await run((g, a) => {
      const [q, , zero] = g.dynamicQuantizeLinear(a) as [Value, Value, Value];
      expect([q.dtype, q.shape]).toEqual(['uint8', [1, 2]]);
      return g.cast(g.matMulInteger(q, g.initializer('w', 'int8', [2, 1], Int8Array.from([1, 1])), zero), 'float32');
    }, Float32Array.from([0, 2.55]), [1, 2]);
    expect(y).toEqual([255]); // codes 0 and 255, zero point 0
  });

  it('DynamicQuantizeLinear + ConvInteger / QLinearConv: 3×3 convolutions of the quantized input (the VAE probes of bench/vae-q8.ts)', async () => {
    // x = 0, 0.01, …, 0.08 (3×3) quantizes to codes 0, 32, …, 255 → over one 3×3 window of weight codes
    // all 1 (uint8 129 − zero point 128), padded 1: the centre output sums every code.
    const x = Float32Array.from({ length: 9 }, (_, i) => i * 0.01);
    const pads = [1, 1, 1, 1];
    const integer = await run((g, a) => {
      const [q, , zero] = g.dynamicQuantizeLinear(a) as [Value, Value, Value];
      const acc = g.convInteger(q, g.initializer('w', 'uint8', [1, 1, 3, 3], new Uint8Array(9).fill(129)), zero, g.initializer('wz', 'uint8', [], Uint8Array.of(128)), { pads });
      expect([acc.dtype, acc.shape]).toEqual(['int32', [1, 1, 3, 3]]);
      return g.cast(acc, 'float32');
    }, x, [1, 1, 3, 3]);
    const codes = Array.from(x, (v) => Math.round(v / (0.08 / 255)));
    expect(integer[4]).toBe(codes.reduce((a, b) => a + b));
    expect(integer[0]).toBe(codes[0]! + codes[1]! + codes[3]! + codes[4]!);
    // QLinearConv: the same sum × x_scale × w_scale (1/8), requantized to y_scale 0.01 around 128 → back to float.
    const linear = await run((g, a) => {
      const [q, scale, zero] = g.dynamicQuantizeLinear(a) as [Value, Value, Value];
      const y = g.qLinearConv(q, scale, zero, g.initializer('w', 'int8', [1, 1, 3, 3], new Int8Array(9).fill(1)), g.float32([1 / 8], [1], 'ws'), g.initializer('wz', 'int8', [1], new Int8Array(1)), g.float32([0.01], [], 'ys'), g.initializer('yz', 'uint8', [], Uint8Array.of(128)), undefined, { pads });
      expect([y.dtype, y.shape]).toEqual(['uint8', [1, 1, 3, 3]]);
      return g.cast(y, 'float32');
    }, x, [1, 1, 3, 3]);
    expect(linear).toEqual(integer.map((sum) => 128 + Math.round((sum * (0.08 / 255)) / 8 / 0.01)));
    expect(linear[4]).toBe(132); // Σ codes 1147 × x_scale / 8 = 0.04498 → 4.498 steps of 0.01
  });

  it('refuses mismatched shapes at build time, naming the node', () => {
    const g = new GraphBuilder();
    const a = g.input('a', 'float32', ['N', 8]);
    expect(() => g.dynamicQuantizeMatMul(a, g.initializer('w', 'int8', [4, 3], new Int8Array(12)), g.weight('s', [3], new Float32Array(3)))).toThrow(/DynamicQuantizeMatMul.*inner dims differ/);
    expect(() => g.dynamicQuantizeMatMul(a, g.initializer('w', 'int8', [8, 3], new Int8Array(24)), g.weight('s', [2], new Float32Array(2)))).toThrow('b_scale (2) must be a scalar or (3)');
    expect(() => g.matMulNBits(a, g.initializer('w', 'uint8', [3, 1, 8], new Uint8Array(24)), g.weight('s', [3], new Float32Array(3)), { K: 8, N: 3, bits: 8, blockSize: 8 })).toThrow('block_size 8 must be a power of 2, at least 16');
    expect(() => g.matMulNBits(a, g.initializer('w', 'uint8', [3, 1, 8], new Uint8Array(24)), g.weight('s', [3], new Float32Array(3)), { K: 8, N: 3, bits: 8, blockSize: 16 })).toThrow('B (3, 1, 8) must be (3, 1, 16)');
    const out = g.matMulNBits(a, g.initializer('w', 'uint8', [3, 1, 16], new Uint8Array(48)), g.weight('s', [3], new Float32Array(3)), { K: 8, N: 3, bits: 8, blockSize: 16 });
    expect(out.shape).toEqual(['N', 3]);
  });
});
