/**
 * DiT sessions the runtime, fp16 and q8 tests open the same way: the dit-tiny fixture through the
 * compiled-model cache, and the embedded model in one dtype against fp32 on the same 8 inputs.
 */
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { EMBEDDED_MODEL_DIR } from '../../src/assets.js';
import { loadDiTCheckpoint } from '../../src/checkpoint/index.js';
import { createTorchGenerator } from '../../src/diffusion/random.js';
import type { DiTDtype } from '../../src/models/dit-config.js';
import type { DiTConfig, DiTWeights } from '../../src/models/dit.js';
import { createDiTSession, type Device, type DiTSessionOptions } from '../../src/runtime/index.js';
import { FIXTURE_DIR, forwardCase, relativeError } from '../models/dit-fixture.js';

/**
 * A copy of the dit-tiny checkpoint file in `dir` (so its mtime can be changed), a cache folder
 * beside it, and open(): a session on that file through the cache, with `opts`, that runs the
 * fixture's forward case once and is released.
 */
export function cachedTinyDiT(dir: string, config: DiTConfig, weights: DiTWeights) {
  const ckpt = path.join(dir, 'model.safetensors');
  copyFileSync(path.join(FIXTURE_DIR, 'model.safetensors'), ckpt);
  const cacheDir = path.join(dir, 'cache');
  const fc = forwardCase();
  async function open(opts: Omit<DiTSessionOptions, 'cacheDir'> = {}) {
    const s = await createDiTSession({ config, weights, path: ckpt }, { cacheDir, ...opts });
    const out = await s.run(fc.x.data, fc.t, fc.y, fc.t.length);
    await s.release();
    return { fromCache: s.fromCache, buildSeconds: s.timings.buildSeconds, out };
  }
  return { ckpt, cacheDir, fc, open };
}

/**
 * The relative error of the embedded model (trained weights) in `dtype` on `device` against fp32 on
 * the CPU: 8 inputs over the whole timestep range, the null class included.
 */
export async function embeddedErrorAgainstFp32(dtype: DiTDtype, device: Device = 'cpu'): Promise<number> {
  const ckpt = loadDiTCheckpoint(EMBEDDED_MODEL_DIR);
  try {
    const c = ckpt.config;
    const x = createTorchGenerator(3).randn(8 * c.in_channels * c.input_size ** 2);
    const t = [0, 100, 300, 500, 700, 900, 999, 50];
    const y = [0, 1, 2, 3, 4, 5, 6, c.num_classes];
    const outs: Float32Array[] = [];
    for (const [d, on] of [['fp32', 'cpu'], [dtype, device]] as const) {
      const s = await createDiTSession(ckpt, { device: on, dtype: d });
      outs.push(await s.run(x, t, y, 8));
      await s.release();
    }
    return relativeError(outs[1]!, outs[0]!);
  } finally {
    ckpt.weights.close();
  }
}
