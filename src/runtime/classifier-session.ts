/**
 * An image classifier on ONNX Runtime (the embedded model's Fashion-MNIST classifier): its graph is
 * small, so it is built in memory on every start and never cached.
 */
import { DitError } from '../errors.js';
import type { LazyTensor } from '../checkpoint/types.js';
import { encodeModel } from '../graph/index.js';
import { buildClassifierGraph, type ClassifierSpec } from '../models/classifier.js';
import { createSession, type SessionOptions } from './session.js';

/** Class logits for a batch of images in [-1, 1]. */
export interface Classifier {
  readonly numClasses: number;
  /** Accuracy on its own test set, reported next to its scores. */
  readonly testAccuracy: number;
  /** images (N, C, H, W) → logits (N, numClasses). */
  classify(images: ClassifierInput): Promise<Float32Array>;
  /** Logits and the penultimate features (N, featureSize): the input of the last linear layer. */
  embed(images: ClassifierInput): Promise<{ readonly logits: Float32Array; readonly features: Float32Array }>;
  readonly featureSize: number;
}

export interface ClassifierInput {
  readonly data: Float32Array;
  readonly shape: readonly [number, number, number, number];
}

export interface ClassifierSession extends Classifier {
  release(): Promise<void>;
}

/** The weights are read while the graph is built; the caller may close them afterwards. */
export async function createClassifierSession(
  spec: ClassifierSpec,
  weights: ReadonlyMap<string, LazyTensor>,
  opts: SessionOptions = {},
): Promise<ClassifierSession> {
  const session = await createSession(encodeModel(buildClassifierGraph(spec, weights)), opts);
  const [c0, h0, w0] = spec.input.shape;
  const last = spec.layers[spec.layers.length - 1];
  const featureSize = last?.kind === 'linear' ? last.in_features : 0;
  const embed = async (images: ClassifierInput) => {
    const [n, c, h, w] = images.shape;
    if (c !== c0 || h !== h0 || w !== w0) {
      throw new DitError(`the classifier takes (N, ${c0}, ${h0}, ${w0}) images, got (N, ${c}, ${h}, ${w})`);
    }
    const out = await session.run({ images: { type: 'float32', data: images.data, dims: [n, c, h, w] } });
    return { logits: out.logits!.data, features: out.features!.data };
  };
  return {
    numClasses: spec.classes.length,
    testAccuracy: spec.test_accuracy,
    featureSize,
    classify: async (images) => (await embed(images)).logits,
    embed,
    release: () => session.release(),
  };
}
