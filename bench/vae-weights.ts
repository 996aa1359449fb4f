/**
 * Random weights in the SD VAE decoder's real layout, for benchmarks that need the real shapes but
 * have no trained weights here (bench/vae.ts, bench/vae-dtypes.ts).
 */
import type { LazyTensor } from '../src/checkpoint/types.js';
import { vaeDecoderParameterShapes, type VaeConfig } from '../src/models/vae-config.js';

/** A small deterministic generator; the values only need to be finite and of sensible scale. */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Random weights in the decoder's real layout: fan-in scaled convs and linears, unit norms. */
export function randomWeights(config: VaeConfig): Map<string, LazyTensor> {
  const weights = new Map<string, LazyTensor>();
  let seed = 1;
  for (const [name, shape] of vaeDecoderParameterShapes(config)) {
    const s = seed++;
    weights.set(name, {
      dtype: 'F32',
      shape,
      toFloat32() {
        const n = shape.reduce((a, b) => a * b, 1);
        const out = new Float32Array(n);
        if (shape.length === 1) return out.fill(/norm/.test(name) && name.endsWith('.weight') ? 1 : 0);
        const bound = Math.sqrt(3 / (n / shape[0]));
        const rand = lcg(s);
        for (let i = 0; i < n; i++) out[i] = (2 * rand() - 1) * bound;
        return out;
      },
    });
  }
  return weights;
}
