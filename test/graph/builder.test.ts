import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeModel, GraphBuilder, GraphBuildError, saveModel, type Graph } from '../../src/graph/index.js';
import { createSession } from '../../src/runtime/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'graph-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic pseudo-random values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

async function run(model: Graph | string, feeds: Record<string, { data: Float32Array; dims: number[] }>) {
  const s = await createSession(typeof model === 'string' ? model : encodeModel(model));
  const r = await s.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { type: 'float32' as const, ...v }])));
  await s.release();
  return r;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('build-time checks name the node', () => {
  it('refuses an unsupported op', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [2]);
    g.scope('blk', () => expect(() => g.node('Einsum', [x], {}, { name: 'mix' })).toThrow(/node "blk\/mix": op "Einsum" is not supported by the builder; supported: .*MatMul/));
  });

  it('refuses a MatMul with mismatched inner dims', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['N', 256, 1152]);
    const w = g.weight('w', [1024, 3456], new Float32Array(1024 * 3456));
    expect(() => g.scope('blocks.3/attn', () => g.matMul(x, w, 'qkv'))).toThrow(GraphBuildError);
    expect(() => g.matMul(x, w, 'qkv')).toThrow(/node "qkv(_\d+)?" \(MatMul\): inner dims differ: \(N, 256, 1152\) × \(1024, 3456\) \(1152 vs 1024\)/);
  });

  it('refuses shapes that do not broadcast, a bad Gemm bias, a bad conv, a bad reshape', () => {
    const g = new GraphBuilder();
    const a = g.input('a', 'float32', ['N', 4]);
    const b = g.input('b', 'float32', [3]);
    expect(() => g.add(a, b, 'sum')).toThrow(/node "sum" \(Add\): shapes do not broadcast: a \(N, 4\), b \(3\)/);
    const w = g.weight('w', [5, 4], new Float32Array(20));
    expect(() => g.gemm(a, w, b, { transB: true }, 'fc')).toThrow(/node "fc" \(Gemm\): bias C \(3\) does not broadcast to \(N, 5\)/);
    const img = g.input('img', 'float32', [1, 3, 8, 8]);
    const k = g.weight('k', [16, 4, 3, 3], new Float32Array(16 * 36));
    expect(() => g.conv(img, k, undefined, { pads: [1, 1, 1, 1] }, 'conv_in')).toThrow(/node "conv_in" \(Conv\): input channels 3 ≠ weight's 4/);
    expect(() => g.reshape(img, [-1, 5], 'flat')).toThrow(/node "flat" \(Reshape\): cannot reshape \(1, 3, 8, 8\): cannot infer -1: 192 elements do not divide by 5/);
  });

  it('drops trailing omitted inputs (ORT 1.30 SkipLayerNormFusion crashes on an explicit empty LayerNorm bias)', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [2, 4]);
    g.output(g.layerNorm(g.add(x, x), g.float32([1, 1, 1, 1]), undefined, { epsilon: 1e-6 }, 'ln'), 'y');
    expect(g.finish().nodes.find((n) => n.name === 'ln')!.inputs).toEqual(['Add', 'const']);
  });

  it('checks initializer data length when the weight is produced, leaving no partial files', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [1, 4]);
    g.output(g.matMul(x, g.weight('late', [4, 2], () => new Float32Array(7))), 'y');
    expect(() => encodeModel(g.finish())).toThrow(/initializer "late": data has 7 elements, shape \(4, 2\) needs 8/);
    const sub = mkdtempSync(path.join(dir, 'partial-'));
    await expect(saveModel(g.finish(), path.join(sub, 'model.onnx'))).rejects.toThrow(GraphBuildError);
    expect(readdirSync(sub)).toEqual([]);
  });

  it('tracks a symbolic batch through flatten and unflatten', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['N', 256, 1152]);
    const flat = g.reshape(x, [-1, 1152]);
    expect(flat.shape).toEqual(['N*256', 1152]);
    expect(g.reshape(flat, [-1, 256, 16, 72]).shape).toEqual(['N', 256, 16, 72]);
    expect(g.transpose(g.reshape(flat, [-1, 256, 16, 72]), [0, 2, 3, 1]).shape).toEqual(['N', 16, 72, 256]);
  });
});

describe('ops run in ONNX Runtime as the builder says', () => {
  it('3×3 pad-1 conv, strided patch conv, nearest ×2 upsample match a direct computation', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [1, 2, 4, 4]);
    const xv = values(32, 1);
    const wv = values(3 * 2 * 9, 2);
    const bv = values(3, 3);
    const c = g.conv(x, g.weight('w', [3, 2, 3, 3], wv), g.weight('b', [3], bv), { pads: [1, 1, 1, 1] }, 'conv3');
    expect(c.shape).toEqual([1, 3, 4, 4]);
    const up = g.resizeNearest(c, 2, 'up');
    expect(up.shape).toEqual([1, 3, 8, 8]);
    const patch = g.conv(x, g.weight('pw', [5, 2, 2, 2], values(40, 4)), undefined, { strides: [2, 2] }, 'patch');
    expect(patch.shape).toEqual([1, 5, 2, 2]);
    g.output(up, 'up');
    const r = await run(g.finish(), { x: { data: xv, dims: [1, 2, 4, 4] } });
    const ref = new Float32Array(3 * 16);
    for (let o = 0; o < 3; o++)
      for (let i = 0; i < 4; i++)
        for (let j = 0; j < 4; j++) {
          let s = bv[o]!;
          for (let ci = 0; ci < 2; ci++)
            for (let di = 0; di < 3; di++)
              for (let dj = 0; dj < 3; dj++) {
                const yi = i + di - 1;
                const xj = j + dj - 1;
                if (yi >= 0 && yi < 4 && xj >= 0 && xj < 4) s += wv[((o * 2 + ci) * 3 + di) * 3 + dj]! * xv[(ci * 4 + yi) * 4 + xj]!;
              }
          ref[(o * 4 + i) * 4 + j] = s;
        }
    const upRef = new Float32Array(3 * 64);
    for (let o = 0; o < 3; o++) for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) upRef[(o * 8 + i) * 8 + j] = ref[(o * 4 + (i >> 1)) * 4 + (j >> 1)]!;
    expect(r.up!.dims).toEqual([1, 3, 8, 8]);
    expect(maxAbsDiff(r.up!.data, upRef)).toBeLessThan(1e-5);
  });

  it('fused MultiHeadAttention equals MatMul/Softmax/MatMul', async () => {
    const g = new GraphBuilder();
    const [B, S, H, hd] = [2, 5, 2, 4];
    const q = g.input('q', 'float32', [B, S, H * hd]);
    const k = g.input('k', 'float32', [B, S, H * hd]);
    const v = g.input('v', 'float32', [B, S, H * hd]);
    g.output(g.multiHeadAttention(q, k, v, H, {}, 'mha'), 'fused');
    const heads = (u: typeof q, perm: number[]) => g.transpose(g.reshape(u, [B, S, H, hd]), perm);
    const scores = g.mul(g.matMul(heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])), g.float32([hd ** -0.5], []));
    const ctx = g.matMul(g.softmax(scores), heads(v, [0, 2, 1, 3]));
    g.output(g.reshape(g.transpose(ctx, [0, 2, 1, 3]), [B, S, H * hd]), 'plain');
    const n = B * S * H * hd;
    const r = await run(g.finish(), { q: { data: values(n, 5), dims: [B, S, H * hd] }, k: { data: values(n, 6), dims: [B, S, H * hd] }, v: { data: values(n, 7), dims: [B, S, H * hd] } });
    expect(maxAbsDiff(r.fused!.data, r.plain!.data)).toBeLessThan(1e-6);
  });

  it('LayerNorm, InstanceNorm, Split, Concat, Gather follow their definitions', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [2, 3, 4]);
    const ln = g.layerNorm(x, g.float32([1, 1, 1, 1], [4]), undefined, { epsilon: 1e-6 });
    const inorm = g.instanceNorm(x, g.float32([1, 2, 3], [3]), g.float32([0, 0, 1], [3]), 1e-5);
    const [a, b] = g.split(x, [1, 3], 2);
    const swapped = g.concat([b!, a!], 2);
    const rowsOf = g.gather(g.reshape(x, [6, 4]), g.int64([5, 0]));
    expect([swapped.shape, rowsOf.shape]).toEqual([[2, 3, 4], [2, 4]]);
    g.output(ln, 'ln');
    g.output(inorm, 'inorm');
    g.output(swapped, 'swapped');
    g.output(rowsOf, 'rows');
    const xv = values(24, 9);
    const r = await run(g.finish(), { x: { data: xv, dims: [2, 3, 4] } });
    const lnRef = new Float32Array(24);
    for (let row = 0; row < 6; row++) {
      const seg = Array.from(xv.subarray(row * 4, row * 4 + 4));
      const mean = seg.reduce((s, v) => s + v, 0) / 4;
      const variance = seg.reduce((s, v) => s + (v - mean) ** 2, 0) / 4;
      seg.forEach((v, i) => (lnRef[row * 4 + i] = (v - mean) / Math.sqrt(variance + 1e-6)));
    }
    expect(maxAbsDiff(r.ln!.data, lnRef)).toBeLessThan(1e-5);
    // InstanceNorm normalises each (n, c) row over the spatial dim, then scales by channel.
    const inRef = lnRef.map((v, i) => {
      const c = Math.floor(i / 4) % 3;
      return v * [1, 2, 3][c]! + [0, 0, 1][c]!;
    });
    expect(maxAbsDiff(r.inorm!.data, inRef)).toBeLessThan(1e-3); // eps 1e-5 vs 1e-6 in lnRef
    const swapRef = new Float32Array(24);
    for (let row = 0; row < 6; row++) for (let i = 0; i < 4; i++) swapRef[row * 4 + i] = xv[row * 4 + ((i + 1) % 4)]!;
    expect(Array.from(r.swapped!.data)).toEqual(Array.from(swapRef));
    expect(Array.from(r.rows!.data)).toEqual([...xv.subarray(20, 24), ...xv.subarray(0, 4)]);
  });
});

describe('external data', () => {
  it('writes weights ≥ 1 KiB to model.onnx.data, page-aligned, and the model loads from its path', async () => {
    const g = new GraphBuilder({ name: 'ext' });
    const x = g.input('x', 'float32', ['N', 300]);
    const wv = values(300 * 300, 11);
    const bv = values(300, 12);
    let produced = 0;
    const w = g.weight('fc.weight', [300, 300], () => {
      produced++;
      return wv;
    });
    g.output(g.gemm(x, w, g.weight('fc.bias', [300], bv), { transB: true }), 'y');
    expect(produced).toBe(0); // lazy until written
    const modelPath = path.join(dir, 'ext.onnx');
    const saved = await saveModel(g.finish(), modelPath);
    expect(produced).toBe(1);
    expect(saved.dataPath).toBe(`${modelPath}.data`);
    expect(existsSync(`${modelPath}.data`)).toBe(true);
    // fc.weight at offset 0 (360000 bytes), fc.bias at the next 4096 boundary (360448), 1200 bytes.
    expect(statSync(`${modelPath}.data`).size).toBe(360448 + 1200);
    expect(statSync(modelPath).size).toBeLessThan(1000);
    const xv = values(2 * 300, 13);
    const r = await run(modelPath, { x: { data: xv, dims: [2, 300] } });
    const ref = new Float32Array(600);
    for (let n = 0; n < 2; n++)
      for (let o = 0; o < 300; o++) {
        let s = bv[o]!;
        for (let i = 0; i < 300; i++) s += xv[n * 300 + i]! * wv[o * 300 + i]!;
        ref[n * 300 + o] = s;
      }
    expect(maxAbsDiff(r.y!.data, ref)).toBeLessThan(1e-4);
  });
});
