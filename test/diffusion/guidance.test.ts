import { describe, expect, it } from 'vitest';
import {
  combineGuidance,
  guidanceActive,
  guidedChannelCount,
  guidedModel,
  officialNoiseBatch,
  validateGuidance,
} from '../../src/diffusion/guidance.js';
import type { ConditionalModelFn } from '../../src/diffusion/types.js';

// A doubled batch of 2 images × 8 channels × 1 pixel: cond image b channel c = 10b + c + 1,
// uncond = the same minus 0.5, so cond − uncond = 0.5 and the guided value is uncond + 0.5·s.
function handMadeOutput(): Float32Array {
  const out = new Float32Array(2 * 2 * 8);
  for (let b = 0; b < 2; b++) {
    for (let c = 0; c < 8; c++) {
      out[b * 8 + c] = 10 * b + c + 1;
      out[(2 + b) * 8 + c] = 10 * b + c + 0.5;
    }
  }
  return out;
}

describe('combineGuidance', () => {
  it('dit: guides channels 0..2 only; channel 3 and the variance channels stay conditional', () => {
    const got = combineGuidance(handMadeOutput(), 2, 8, 1, guidedChannelCount('dit', 4, 8), 4, [true, true]);
    expect(Array.from(got)).toEqual([
      2.5, 3.5, 4.5, 4, 5, 6, 7, 8, // image 0: uncond + 4·0.5 on 0..2
      12.5, 13.5, 14.5, 14, 15, 16, 17, 18,
    ]);
  });

  it('all: guides every eps channel (0..3); the variance channels stay conditional', () => {
    const got = combineGuidance(handMadeOutput(), 2, 8, 1, guidedChannelCount('all', 4, 8), 4, [true, true]);
    expect(Array.from(got.subarray(0, 8))).toEqual([2.5, 3.5, 4.5, 5.5, 5, 6, 7, 8]);
  });

  it('scale 0 gives the unconditional eps; an inactive image keeps its conditional output', () => {
    const got = combineGuidance(handMadeOutput(), 2, 8, 1, 4, 0, [true, false]);
    expect(Array.from(got)).toEqual([0.5, 1.5, 2.5, 3.5, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18]);
  });

  it('rounds like float32 tensors: uncond + f32(s · f32(cond − uncond))', () => {
    const out = Float32Array.from([0.1, 0.7]); // n = 1, one channel, cond then uncond
    const got = combineGuidance(out, 1, 1, 1, 1, 1.5, [true]);
    const f = Math.fround;
    expect(got[0]).toBe(f(out[1] + f(f(1.5) * f(out[0] - out[1]))));
  });

  it('a 1-channel model under dit guides out[:, :3] literally (eps and variance channel)', () => {
    expect(guidedChannelCount('dit', 1, 2)).toBe(2);
    expect(guidedChannelCount('all', 1, 2)).toBe(1);
    expect(guidedChannelCount('off', 4, 8)).toBe(0);
  });

  it('names a mis-sized model output', () => {
    expect(() => combineGuidance(new Float32Array(10), 2, 8, 1, 3, 4, [true, true])).toThrow(
      /model returned 10 values for a doubled batch of 4 images × 8; expected 32/,
    );
  });
});

describe('guidedModel', () => {
  const shape = [2, 4, 1, 1] as const;
  const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);

  function recordingForward(): { forward: ConditionalModelFn; calls: { x: number[]; t: number[]; y: number[]; batch: number }[] } {
    const calls: { x: number[]; t: number[]; y: number[]; batch: number }[] = [];
    // eps = x + y (so cond and uncond differ by label − null), variance channels = y.
    const forward: ConditionalModelFn = async (xs, ts, ys, batch) => {
      calls.push({ x: Array.from(xs), t: Array.from(ts), y: Array.from(ys), batch });
      const out = new Float32Array(batch * 8);
      for (let b = 0; b < batch; b++) {
        for (let c = 0; c < 4; c++) out[b * 8 + c] = xs[b * 4 + c] + ys[b];
        for (let c = 4; c < 8; c++) out[b * 8 + c] = ys[b];
      }
      return out;
    };
    return { forward, calls };
  }

  it('runs [x, x] with [labels, null] like forward_with_cfg and guides the first half', async () => {
    const { forward, calls } = recordingForward();
    const model = guidedModel({ forward, labels: [3, 7], nullClass: 10, form: 'dit', scale: 2, inChannels: 4, outChannels: 8, sampleShape: shape });
    expect(model.noiseBatch).toBe(4);
    const out = await model(x, Int32Array.from([500, 500]));
    expect(calls).toEqual([{ x: [...x, ...x], t: [500, 500, 500, 500], y: [3, 7, 10, 10], batch: 4 }]);
    // uncond + 2·(cond − uncond) = x + 10 + 2·(label − 10) on channels 0..2.
    expect(Array.from(out)).toEqual([
      1 + 10 - 14, 2 - 4, 3 - 4, 4 + 3, 3, 3, 3, 3,
      5 + 10 - 6, 6 + 4, 7 + 4, 8 + 7, 7, 7, 7, 7,
    ]);
  });

  it('skips the unconditional branch at scale exactly 1, yet keeps the doubled noise batch', async () => {
    const { forward, calls } = recordingForward();
    const model = guidedModel({ forward, labels: [3, 7], nullClass: 10, form: 'all', scale: 1, inChannels: 4, outChannels: 8, sampleShape: shape });
    const out = await model(x, Int32Array.from([10, 10]));
    expect(calls.map((c) => c.batch)).toEqual([2]);
    expect(calls[0].y).toEqual([3, 7]);
    expect(Array.from(out.subarray(0, 4))).toEqual([4, 5, 6, 7]);
    expect(model.noiseBatch).toBe(4);
  });

  it('guides only inside the interval [lo, hi] of original timesteps (inclusive)', async () => {
    const { forward, calls } = recordingForward();
    const model = guidedModel({
      forward, labels: [3, 7], nullClass: 10, form: 'dit', scale: 4, interval: [100, 700], inChannels: 4, outChannels: 8, sampleShape: shape,
    });
    for (const t of [99, 100, 700, 701]) await model(x, Int32Array.from([t, t]));
    expect(calls.map((c) => c.batch)).toEqual([2, 4, 4, 2]);
    expect(guidanceActive({ form: 'dit', scale: 4, interval: [100, 700] }, 700)).toBe(true);
  });

  it('off: one conditional forward on N images and an N-image noise batch', async () => {
    const { forward, calls } = recordingForward();
    const model = guidedModel({ forward, labels: [3, 7], nullClass: 10, form: 'off', scale: 4, inChannels: 4, outChannels: 8, sampleShape: shape });
    await model(x, Int32Array.from([5, 5]));
    expect(calls.map((c) => c.batch)).toEqual([2]);
    expect(model.noiseBatch).toBe(2);
    expect(officialNoiseBatch('dit', 3)).toBe(6);
  });

  it('rejects bad options before any work, naming the value and what is allowed', () => {
    expect(() => validateGuidance({ form: 'some' as never, scale: 1 })).toThrow(/guidance 'some' is unknown; use one of: dit, all, off/);
    expect(() => validateGuidance({ form: 'dit', scale: -1 })).toThrow(/cfg scale -1 is invalid; it must be a finite number ≥ 0/);
    expect(() => validateGuidance({ form: 'dit', scale: 4, interval: [700, 100] })).toThrow(/guidance interval \[700, 100\] is invalid/);
    const { forward } = recordingForward();
    expect(() =>
      guidedModel({ forward, labels: [1], nullClass: 10, form: 'dit', scale: 4, inChannels: 4, outChannels: 8, sampleShape: shape }),
    ).toThrow(/got 1 labels for a batch of 2 images/);
  });
});
