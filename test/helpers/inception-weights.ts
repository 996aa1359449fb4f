/**
 * The random FID Inception weights of test/fixtures/inception, rebuilt from their seed: what
 * scripts/fixtures/inception.py draws with torch.manual_seed + torch.randn per state-dict entry,
 * scaled in float32 by the same rule, through our PyTorch-compatible generator.
 */
import { derivedTensor } from '../../src/checkpoint/lazy.js';
import type { LazyTensor } from '../../src/checkpoint/types.js';
import { createTorchGenerator } from '../../src/diffusion/random.js';
import { inceptionStateDictKeys } from '../../src/models/inception.js';

const f32 = Math.fround;

export function randomInceptionWeights(seed: number): Map<string, LazyTensor> {
  const gen = createTorchGenerator(seed);
  const out = new Map<string, LazyTensor>();
  for (const { name, shape } of inceptionStateDictKeys()) {
    if (name.endsWith('num_batches_tracked')) continue; // no draw
    const count = shape.reduce((a, b) => a * b, 1);
    const r = gen.randn(count);
    let scale: number;
    let shift = 0;
    let abs = false;
    if (name.endsWith('conv.weight')) scale = Math.sqrt(2 / (shape[1]! * shape[2]! * shape[3]!));
    else if (name.endsWith('bn.weight')) [scale, shift] = [0.1, 1];
    else if (name.endsWith('bn.running_var')) [scale, shift, abs] = [0.1, 1, true];
    else if (name.endsWith('bn.bias') || name.endsWith('bn.running_mean')) scale = 0.1;
    else if (name === 'fc.weight') scale = Math.sqrt(1 / shape[1]!);
    else if (name === 'fc.bias') scale = 0.01;
    else throw new Error(`no rule for ${name}`);
    const s = f32(scale);
    for (let i = 0; i < count; i++) {
      const v = f32((abs ? Math.abs(r[i]!) : r[i]!) * s);
      r[i] = shift === 0 ? v : f32(v + shift);
    }
    out.set(name, derivedTensor('F32', shape, () => r));
  }
  return out;
}
