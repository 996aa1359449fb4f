/**
 * The small Fashion-MNIST classifier the project ships to measure class adherence of samples
 * (training/classifier.py): 3×3 convolutions (stride 1 or 2, padding 1) each followed by ReLU,
 * global average pooling, one Linear. The layer list comes from classifier.json.
 */
import { UsageError } from '../errors.js';
import type { LazyTensor } from '../checkpoint/types.js';
import { GraphBuilder, type Graph } from '../graph/index.js';

export type ClassifierLayer =
  | { kind: 'conv2d'; in_channels: number; out_channels: number; kernel_size: number; stride: number; padding: number; activation: 'relu'; weight: string; bias: string }
  | { kind: 'global_avg_pool' }
  | { kind: 'linear'; in_features: number; out_features: number; weight: string; bias: string };

export interface ClassifierSpec {
  readonly input: { readonly shape: readonly [number, number, number] }; // (C, H, W)
  readonly layers: readonly ClassifierLayer[];
  readonly classes: readonly string[];
  readonly test_accuracy: number;
}

/** Graph: images (N, C, H, W) → logits (N, K), and features (N, F): the input of the last linear layer (the penultimate features). */
export function buildClassifierGraph(spec: ClassifierSpec, weights: ReadonlyMap<string, LazyTensor>): Graph {
  const g = new GraphBuilder({ name: 'fashion-mnist-classifier' });
  const [c0, h0, w0] = spec.input.shape;
  let x = g.input('images', 'float32', ['N', c0, h0, w0]); // (N, C, H, W)
  let features: typeof x | undefined;
  const tensor = (name: string, shape: readonly number[]) => {
    const t = weights.get(name);
    if (!t) throw new UsageError(`classifier weights lack "${name}"; the classifier files do not match classifier.json`);
    if (t.shape.join() !== shape.join()) {
      throw new UsageError(`classifier weight "${name}" has shape [${t.shape.join(', ')}], classifier.json implies [${shape.join(', ')}]`);
    }
    return g.weight(name, shape, () => t.toFloat32());
  };
  for (const [i, layer] of spec.layers.entries()) {
    if (layer.kind === 'conv2d') {
      const k = layer.kernel_size;
      const w = tensor(layer.weight, [layer.out_channels, layer.in_channels, k, k]);
      const b = tensor(layer.bias, [layer.out_channels]);
      const p = layer.padding;
      x = g.relu(g.conv(x, w, b, { strides: [layer.stride, layer.stride], pads: [p, p, p, p] }, `conv${i}`));
    } else if (layer.kind === 'global_avg_pool') {
      // Mean over H·W as a MatMul with a constant column of 1/(H·W).
      const [, c, h, w] = x.shape as [string, number, number, number];
      const flat = g.reshape(x, [-1, c, h * w]); // (N, C, HW)
      const ones = g.weight(`pool${i}.mean`, [h * w, 1], new Float32Array(h * w).fill(1 / (h * w)));
      x = g.reshape(g.matMul(flat, ones), [-1, c]); // (N, C)
    } else if (layer.kind === 'linear') {
      const w = tensor(layer.weight, [layer.out_features, layer.in_features]);
      const b = tensor(layer.bias, [layer.out_features]);
      features = x;
      x = g.gemm(x, w, b, { transB: true }, `fc${i}`);
    } else {
      throw new UsageError(`classifier.json layer ${i} has kind "${(layer as { kind: string }).kind}": supported are conv2d, global_avg_pool, linear`);
    }
  }
  g.output(x, 'logits');
  if (features === undefined) throw new UsageError('classifier.json has no linear layer: the classifier needs one (its input is the feature vector)');
  g.output(features, 'features');
  return g.finish();
}
