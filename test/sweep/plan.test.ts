import { describe, expect, it } from 'vitest';
import { planSweep } from '../../src/sweep/plan.js';

describe('planSweep', () => {
  it('puts the first swept flag on the rows and the second on the columns, in command-line order', () => {
    const argv = ['node', 'dit', 'sweep', '--num-sampling-steps', '50,250', '--cfg-scale', '1,5,10'];
    const plan = planSweep({ cfgScale: '1,5,10', numSamplingSteps: '50,250', seed: '3' }, argv, 'm');
    expect(plan.rows?.flag).toBe('--num-sampling-steps');
    expect(plan.columns?.values).toEqual(['1', '5', '10']);
    expect(plan.cells.map((c) => c.id)).toEqual(['r0-c0', 'r0-c1', 'r0-c2', 'r1-c0', 'r1-c1', 'r1-c2']);
    expect(plan.cells[4]!.options).toEqual({ numSamplingSteps: '250', cfgScale: '5', seed: '3' });
    expect(plan.cells[4]!.values).toEqual({ '--num-sampling-steps': '250', '--cfg-scale': '5' });
  });

  it('lays a single swept flag out as columns, and sweeps guidance intervals separated by ";"', () => {
    const plan = planSweep({ guidanceInterval: '0,999;0,700' }, [], 'm');
    expect(plan.rows).toBeUndefined();
    expect(plan.cells.map((c) => c.options.guidanceInterval)).toEqual(['0,999', '0,700']);
  });

  it('refuses three swept flags and repeated values', () => {
    expect(() => planSweep({ cfgScale: '1,5', numSamplingSteps: '10,20', seed: '1,2' }, [], 'm')).toThrow(
      '--cfg-scale, --num-sampling-steps, --seed are all swept: at most two flags can be swept at once',
    );
    expect(() => planSweep({ cfgScale: '1,1' }, [], 'm')).toThrow('--cfg-scale 1,1 repeats a value');
  });

  it('fingerprints the whole sweep: same flags and model give the same print, anything else another', () => {
    const a = planSweep({ cfgScale: '1,5' }, [], 'model-a').fingerprint;
    expect(planSweep({ cfgScale: '1,5' }, [], 'model-a').fingerprint).toBe(a);
    expect(planSweep({ cfgScale: '1,5' }, [], 'model-b').fingerprint).not.toBe(a);
    expect(planSweep({ cfgScale: '1,5', seed: '1' }, [], 'model-a').fingerprint).not.toBe(a);
  });
});
