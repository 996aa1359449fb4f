/** Share links (web/src/share.ts): which request fields a query fills, ids against names. */
import { describe, expect, it } from 'vitest';
import { readShareQuery, shareQuery } from '../../web/src/share.js';

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
