/**
 * The classifier behind the sweep's class-adherence numbers, run by this project on the real
 * Fashion-MNIST test set (Debian's dataset-fashion-mnist, installed by scripts/install.sh): its
 * accuracy must be the one classifier.json reports from PyTorch.
 */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { openEmbeddedClassifier } from '../src/model-files.js';
import { assetPath } from '../src/assets.js';
import { scoreLogits } from '../src/sweep/metrics.js';

const DATA = '/usr/share/datasets/fashion-mnist';

/** An idx file's payload after its header (magic, then one u32 per dimension). */
function readIdx(file: string): { dims: number[]; data: Uint8Array } {
  const bytes = gunzipSync(fs.readFileSync(path.join(DATA, file)));
  const rank = bytes[3]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  return { dims, data: bytes.subarray(4 + 4 * rank) };
}

describe('the shipped Fashion-MNIST classifier', () => {
  it('reaches the test accuracy classifier.json reports, on the t10k set, 28→32 padded as in training', async () => {
    const images = readIdx('t10k-images-idx3-ubyte.gz');
    const labels = Array.from(readIdx('t10k-labels-idx1-ubyte.gz').data);
    expect(images.dims).toEqual([10000, 28, 28]);
    const n = labels.length;
    const x = new Float32Array(n * 32 * 32).fill(-1); // background 0 → −1
    for (let k = 0; k < n; k++) {
      for (let r = 0; r < 28; r++) {
        for (let c = 0; c < 28; c++) x[k * 1024 + (r + 2) * 32 + c + 2] = images.data[k * 784 + r * 28 + c]! / 127.5 - 1;
      }
    }
    const classifier = await openEmbeddedClassifier();
    try {
      const logits = await classifier.classify({ data: x, shape: [n, 1, 32, 32] });
      const { accuracy } = scoreLogits(logits, 10, labels);
      const reported = JSON.parse(fs.readFileSync(assetPath('fashion-mnist', 'classifier.json'), 'utf8')).test_accuracy as number;
      // Same weights, same inputs: only float-summation order differs, which may flip a near tie.
      expect(Math.abs(accuracy - reported)).toBeLessThanOrEqual(0.0005);
      expect(accuracy).toBeGreaterThan(0.89);
    } finally {
      await classifier.release();
    }
  });
});
