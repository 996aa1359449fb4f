import { describe, expect, it } from 'vitest';
import { renderReport } from '../../src/sweep/report.js';
import { planSweep } from '../../src/sweep/plan.js';
import type { CellResult } from '../../src/sweep/run.js';

const cell = (id: string, cfg: string, labels: number[], metrics: CellResult['metrics']): CellResult => ({
  id,
  row: 0,
  column: Number(id.at(-1)),
  values: { '--cfg-scale': cfg },
  settings: { cfgScale: Number(cfg), numSamplingSteps: 50, sampler: 'ddpm', guidance: 'all', guidanceInterval: null, seed: '0', labels },
  seconds: { sample: 2, decode: 0.5, perStep: 0.04 },
  metrics,
  image: `cells/${id}.png`,
});

describe('renderReport', () => {
  it('tabulates swept values, times and metrics, states the fixed settings, and summarises repeated labels', () => {
    const labels = Array.from({ length: 40 }, (_, i) => i % 10);
    const plan = planSweep({ cfgScale: '1,10' }, [], 'm');
    const m = { diversity: 0.5, sharpness: 0.012345, classAccuracy: 0.25, classConfidence: 0.3, withinClassDiversity: 0.4, fd: 123.456 };
    const { markdown, json } = renderReport({
      title: 'T',
      model: 'tiny',
      plan,
      cells: [cell('r0-c0', '1', labels, m), cell('r0-c1', '10', labels, { ...m, classAccuracy: 0.975 })],
      classifier: { testAccuracy: 0.8577 },
    });
    expect(markdown).toContain('- seed 0 (every cell starts from the same noise), 40 images, labels 0–9 ×4');
    expect(markdown).toContain('- num-sampling-steps 50');
    expect(markdown).toContain('| cfg-scale | sample s | s/step | decode s | diversity | sharpness | class acc. | confidence | within-class div. | FD (40 img., noisy) |');
    expect(markdown).toContain('| 10 | 2.00 | 0.0400 | 0.50 | 0.5000 | 0.01235 | 0.975 | 0.300 | 0.4000 | 123.5 |');
    expect(markdown).toContain('From so few images it is biased upward and noisy');
    expect(markdown).toContain('(test accuracy 85.8%)');
    expect((json as { cells: unknown[] }).cells).toHaveLength(2);
  });
});
