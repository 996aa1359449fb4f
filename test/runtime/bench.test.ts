/** benchDiT's reference product is in the model's precision: fp32 MatMul, or int8 for q8. */
import { describe, expect, it } from 'vitest';
import { ditConfigFor } from '../../src/models/dit-config.js';
import { benchDiT } from '../../src/runtime/bench.js';

describe('benchDiT', () => {
  it('times the q8 graph against an int8 DynamicQuantizeMatMul of the MLP shape, fp32 against a MatMul', async () => {
    const config = ditConfigFor('DiT-S/8', { input_size: 8 });
    for (const dtype of ['fp32', 'q8'] as const) {
      const r = await benchDiT({ config, model: 'DiT-S/8', batch: 2, repeats: 1, threads: 1, graph: { dtype } });
      expect(r.matmul_dtype).toBe(dtype);
      expect(r.graph.dtype).toBe(dtype);
      expect(r.matmul_shape).toEqual([2, 384, 1536]);
      expect(r.matmul_gflops_per_s).toBeGreaterThan(0);
      expect(r.ratio_to_matmul).toBeCloseTo(r.gflops_per_s / r.matmul_gflops_per_s, 12);
    }
  });
});
