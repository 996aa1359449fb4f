/** Share links (web/src/share.ts): which request fields a query fills, ids against names. */
import { describe, expect, it } from 'vitest';
import { inQueryWords, readComputeQuery, readShareQuery, shareQuery } from '../../web/src/share.js';
import { resolveLoadOptions } from '../../src/options.js';

describe('share links', () => {
  it('reads classes= of whole numbers as ids (--class-labels) and anything else as names (--classes)', () => {
    expect(readShareQuery('?classes=7,9&seed=3').request).toEqual({ classLabels: '7,9', seed: '3' });
    expect(readShareQuery('?classes=%207%20,9').request).toEqual({ classLabels: ' 7 ,9' });
    expect(readShareQuery('?classes=sneaker,ankle%20boot').request).toEqual({ classes: 'sneaker,ankle boot' });
    // Mixed or odd lists go to the name resolver, which says what is wrong with them.
    expect(readShareQuery('?classes=7,bag').request).toEqual({ classes: '7,bag' });
    expect(readShareQuery('?classes=7,,9').request).toEqual({ classes: '7,,9' });
    expect(readShareQuery('?classes=-1').request).toEqual({ classLabels: '-1' }); // the id resolver says out of range
  });

  it('writes ids back, so a link made by a run reads back as ids', () => {
    const q = shareQuery({ classLabels: [7, 9], seed: 3, numSamplingSteps: 50 });
    expect(q).toBe('?seed=3&classes=7,9&steps=50');
    expect(readShareQuery(q)).toEqual({ request: { classLabels: '7,9', seed: '3', numSamplingSteps: '50' }, run: false, any: true });
  });
});

describe('compute keys (how the page computes)', () => {
  it('reads backend, threads, attention and dtype as typed, and nothing else', () => {
    expect(readComputeQuery('?seed=3&backend=wasm&threads=2&attention=plain&dtype=q8&run=1')).toEqual({ backend: 'wasm', threads: '2', attention: 'plain', dtype: 'q8' });
    expect(readComputeQuery('?dtype=q9&threads=x')).toEqual({ dtype: 'q9', threads: 'x' });
    expect(readComputeQuery('?seed=3')).toEqual({});
  });

  it('keeps them in the address a run writes (a run once dropped them)', () => {
    const compute = readComputeQuery('?backend=wasm&dtype=q8&seed=1');
    const q = shareQuery({ seed: 3, numSamplingSteps: 50 }, compute);
    expect(q).toBe('?seed=3&steps=50&backend=wasm&dtype=q8');
    expect(readComputeQuery(q)).toEqual(compute);
    expect(readShareQuery(q).request).toEqual({ seed: '3', numSamplingSteps: '50' });
  });

  it("puts the resolver's flags in the address's words", () => {
    const said = (user: Parameters<typeof resolveLoadOptions>[0]) => {
      try {
        resolveLoadOptions(user);
      } catch (err) {
        return inQueryWords((err as Error).message);
      }
      throw new Error('resolved');
    };
    expect(said({ device: 'cpu', dtype: 'fp16' })).toBe('?dtype fp16 does not run on ?backend wasm: it runs on webgpu, cuda; use ?backend webgpu, or on wasm ?dtype fp32 or q8');
    expect(said({ device: 'cpu', dtype: 'q9' })).toMatch(/^\?dtype "q9" is not supported: must be one of fp32, /);
    expect(said({ device: 'cpu', threads: 'x' })).toMatch(/^\?threads /);
    expect(said({ device: 'webgpu', attention: 'flash' })).toMatch(/^\?attention "flash" is not supported: must be one of fused, plain$/);
  });
});
