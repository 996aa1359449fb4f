/** The weight quantizer against hand-computed codes and scales. */
import { describe, expect, it } from 'vitest';
import { q8LayerKind, quantizeBlocks, quantizeRows, roundHalfEven } from '../../src/models/quantize.js';

describe('roundHalfEven', () => {
  it('rounds ties to the even neighbour and everything else to the nearest', () => {
    expect([0.5, 1.5, 2.5, -1.5, -2.5, 2.4, 2.6, -2.6, 3].map(roundHalfEven)).toEqual([0, 2, 2, -2, -2, 2, 3, -3, 3]);
  });
});

describe('quantizeRows (per output channel, symmetric)', () => {
  // Row 0: max|w| = 31.5 → scale 31.5 / 63 = 0.5; codes 63, −1.5 → −2, 2.5 → 2, 20, −0.2 → 0.
  // Row 1: all zero → scale 1, codes 0. Row 2: max|w| = 15.75 → scale 0.25; codes −63, 1.5 → 2, 0.5 → 0, 1.2 → 1, 4.
  const w = Float32Array.from([31.5, -0.75, 1.25, 10, -0.1, 0, 0, 0, 0, 0, -15.75, 0.375, 0.125, 0.3, 1]);

  it('gives one scale per row and round-half-even codes within ±maxCode', () => {
    const q = quantizeRows(w, 3, 5, { maxCode: 63 });
    expect(Array.from(q.scales)).toEqual([0.5, 1, 0.25]);
    expect(Array.from(q.codes)).toEqual([63, -2, 2, 20, 0, 0, 0, 0, 0, 0, -63, 2, 0, 1, 4]);
  });

  it('writes (in, out) codes when asked to transpose (DynamicQuantizeMatMul B layout)', () => {
    const q = quantizeRows(w, 3, 5, { maxCode: 63, transpose: true });
    expect(Array.from(q.codes)).toEqual([63, 0, -63, -2, 0, 2, 2, 0, 0, 20, 0, 1, 0, 0, 4]);
  });

  it('uses the full int8 range by default', () => {
    const q = quantizeRows(Float32Array.from([-127, 63.5, 1]), 1, 3);
    expect(Array.from(q.scales)).toEqual([1]);
    expect(Array.from(q.codes)).toEqual([-127, 64, 1]);
  });

  it('refuses data that does not fit the shape', () => {
    expect(() => quantizeRows(new Float32Array(5), 2, 3)).toThrow('weight has 5 values, (2, 3) needs 6');
  });
});

describe('quantizeBlocks (MatMulNBits, 8 bits, zero point 128)', () => {
  it('scales each block of a row on its own and pads the last block with the zero code', () => {
    // One row of 40 values, blocks of 32: block 0 max 254 → scale 2; block 1 (8 values) max 1.27 → scale 0.01.
    const w = new Float32Array(40);
    w[0] = 254;
    w[1] = -3; // −1.5 → −2
    w[2] = 5; // 2.5 → 2
    w[32] = -1.27;
    w[33] = 0.5;
    const q = quantizeBlocks(w, 1, 40, 32);
    expect(q.blocks).toBe(2);
    expect(q.codes.length).toBe(64);
    expect(Array.from(q.scales)).toEqual([2, Math.fround(1.27 / 127)]);
    expect(Array.from(q.codes.subarray(0, 4))).toEqual([255, 126, 130, 128]);
    expect(Array.from(q.codes.subarray(32, 35))).toEqual([1, 178, 128]);
    expect(Array.from(q.codes.subarray(40))).toEqual(new Array(24).fill(128));
  });
});

describe('quantizeBlocks (MatMulNBits, 4 bits, zero point 8)', () => {
  it('maps the signed extreme onto −8, clamps to [−8, 7] and packs two codes a byte, low nibble first', () => {
    // Block 0 (16 values): extreme +4 → scale 4 / −8 = −0.5; 4 → −8, −1 → 2, 0.25 → −0.5 → 0 (half to even), −4 → 8 → 7 (clamped).
    // Block 1 (4 values, padded to 16): extreme −0.8 → scale 0.1; −0.8 → −8, 0.3 → 3.
    const w = new Float32Array(20);
    [w[0], w[1], w[2], w[3], w[16], w[17]] = [4, -1, 0.25, -4, -0.8, 0.3];
    const q = quantizeBlocks(w, 1, 20, 16, 4);
    expect(q.blocks).toBe(2);
    expect(Array.from(q.scales)).toEqual([-0.5, Math.fround(0.1)]);
    expect(q.codes.length).toBe(16);
    // Stored codes (code + 8): 0, 10, 8, 15, then 8s; block 1: 0, 11, then 8s (padding included).
    expect(Array.from(q.codes.subarray(0, 3))).toEqual([0xa0, 0xf8, 0x88]);
    expect(Array.from(q.codes.subarray(8, 10))).toEqual([0xb0, 0x88]);
    expect(Array.from(q.codes.subarray(10))).toEqual(new Array(6).fill(0x88));
  });
});

describe('q8LayerKind', () => {
  it('names every DiT linear by role', () => {
    expect(['t_embedder.mlp.0', 'blocks.3.adaLN_modulation.1', 'final_layer.adaLN_modulation.1', 'blocks.0.attn.qkv', 'blocks.27.attn.proj', 'blocks.1.mlp.fc1', 'blocks.1.mlp.fc2', 'final_layer.linear'].map(q8LayerKind))
      .toEqual(['embed', 'adaLN', 'adaLN', 'qkv', 'proj', 'fc1', 'fc2', 'final']);
    expect(() => q8LayerKind('blocks.0.attn.out')).toThrow('no q8 layer kind for "blocks.0.attn.out"');
  });
});
