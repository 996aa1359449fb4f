import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDiTCheckpoint } from '../../src/checkpoint/index.js';
import { float32ToHalfBits } from '../helpers/checkpoint-writers.js';
import { createDiTSession, type DiTModelSource } from '../../src/runtime/index.js';
import { FIXTURE_DIR, forwardCase, relativeError } from './dit-fixture.js';

const fc = forwardCase();

async function forward(source: DiTModelSource, attention: 'fused' | 'plain'): Promise<Float32Array> {
  const session = await createDiTSession(source, { attention });
  try {
    return await session.run(fc.x.data, fc.t, fc.y, fc.t.length);
  } finally {
    await session.release();
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

describe('DiT forward from every checkpoint form of the dit-tiny fixture (CPU)', () => {
  for (const file of ['model.pt', 'model.safetensors', 'train-checkpoint.pt', 'ddp.pt']) {
    for (const attention of ['fused', 'plain'] as const) {
      it(`${file}, ${attention} attention: relative error < 1e-5`, async () => {
        const ckpt = loadDiTCheckpoint(path.join(FIXTURE_DIR, file));
        try {
          expect(relativeError(await forward(ckpt, attention), fc.out.data)).toBeLessThan(1e-5);
        } finally {
          ckpt.weights.close();
        }
      });
    }
  }

  // fp16.pt holds the weights rounded to half precision, so it cannot match the float32 reference
  // to 1e-5; it must compute exactly what the float32 weights rounded to half compute.
  for (const attention of ['fused', 'plain'] as const) {
    it(`fp16.pt, ${attention} attention: equals the half-rounded float32 weights (< 1e-6), within half rounding of the reference (< 1e-3)`, async () => {
      const half = loadDiTCheckpoint(path.join(FIXTURE_DIR, 'fp16.pt'));
      const full = loadDiTCheckpoint(path.join(FIXTURE_DIR, 'model.safetensors'));
      try {
        expect(half.dtypes).toEqual(['F16']);
        const rounded = (name: string) => Float32Array.from(float32ToHalfBits(full.weights.tensors.get(name)!.toFloat32()), halfToFloat);
        const outHalf = await forward(half, attention);
        expect(relativeError(outHalf, await forward({ config: full.config, weights: rounded }, attention))).toBeLessThan(1e-6);
        expect(relativeError(outHalf, fc.out.data)).toBeLessThan(1e-3);
      } finally {
        half.weights.close();
        full.weights.close();
      }
    });
  }
});
