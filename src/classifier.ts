/** The embedded model's classifier as a Classifier for sweep metrics and tests. */
import fs from 'node:fs';
import path from 'node:path';
import { EMBEDDED_MODEL_DIR } from './assets.js';
import { DitError } from './errors.js';
import { readSafetensors } from './checkpoint/safetensors.js';
import { encodeModel } from './graph/index.js';
import { buildClassifierGraph, type ClassifierSpec } from './models/classifier.js';
import { createSession, type Device } from './runtime/index.js';
import type { Classifier } from './sweep/run.js';

export interface LoadedClassifier extends Classifier {
  release(): Promise<void>;
}

export async function loadClassifier(dir: string, opts: { device?: Device; threads?: number } = {}): Promise<LoadedClassifier> {
  const specFile = path.join(dir, 'classifier.json');
  if (!fs.existsSync(specFile)) throw new DitError(`no classifier in ${dir} (classifier.json is missing)`);
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8')) as ClassifierSpec;
  const weights = readSafetensors(path.join(dir, 'classifier.safetensors'));
  let bytes: Uint8Array;
  try {
    bytes = encodeModel(buildClassifierGraph(spec, weights.tensors));
  } finally {
    weights.close();
  }
  const session = await createSession(bytes, { device: opts.device ?? 'cpu', threads: opts.threads });
  const numClasses = spec.classes.length;
  return {
    numClasses,
    testAccuracy: spec.test_accuracy,
    async classify(images) {
      const [n, c, h, w] = images.shape;
      const [c0, h0, w0] = spec.input.shape;
      if (c !== c0 || h !== h0 || w !== w0) {
        throw new DitError(`the classifier takes (N, ${c0}, ${h0}, ${w0}) images, got (N, ${c}, ${h}, ${w})`);
      }
      const out = await session.run({ images: { type: 'float32', data: images.data, dims: [n, c, h, w] } });
      return out.logits!.data;
    },
    release: () => session.release(),
  };
}

/** The classifier shipped with the embedded Fashion-MNIST DiT. */
export function loadEmbeddedClassifier(opts: { device?: Device; threads?: number } = {}): Promise<LoadedClassifier> {
  return loadClassifier(EMBEDDED_MODEL_DIR, opts);
}
