/**
 * Distribution quality of the embedded model's samples with nothing downloaded: the Fréchet
 * distance between the shipped classifier's penultimate features (128-d, after global average
 * pooling) of the samples and of the Fashion-MNIST test set (assets/fashion-mnist/fd-reference.json,
 * made by training/fd_reference.py), plus class accuracy and the mean probability of the label.
 *
 * Like FID, the number depends on the sample count: the covariance of a few images is a poor
 * estimate, and FD is biased upward for small sets (500 real test images already score ≈ 5 against
 * the full test set). Compare FDs of equally many samples; use ≥ 2,000 for curves.
 *
 * Images are scored as 8-bit pixels, as written to PNG (and as the test set is): channel 0 of the
 * RGB image, mapped to [-1, 1] with u / 127.5 − 1 as in training.
 */
import fs from 'node:fs';
import { assert, DitError } from '../errors.js';
import { assetPath } from '../assets.js';
import { FeatureStatistics, frechetDistance, type GaussianStats } from '../metrics/frechet.js';
import type { RgbImage } from '../image/grid.js';
import type { Classifier } from '../runtime/index.js';
import { scoreLogits } from './metrics.js';

export const EMBEDDED_FD_REFERENCE = assetPath('fashion-mnist', 'fd-reference.json');

/** The shipped test-set statistics (μ, Σ in float64). */
export function embeddedReference(file = EMBEDDED_FD_REFERENCE): GaussianStats & { readonly count: number } {
  let raw: { mu?: unknown; sigma?: unknown; count?: unknown };
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof raw;
  } catch (err) {
    throw new DitError(`cannot read the FD reference ${file}: ${(err as Error).message}; reinstall dit-ts or rerun training/fd_reference.py`);
  }
  const mu = Array.isArray(raw.mu) ? Float64Array.from(raw.mu as number[]) : new Float64Array();
  const rows = Array.isArray(raw.sigma) ? (raw.sigma as number[][]) : [];
  const d = mu.length;
  if (d === 0 || rows.length !== d || rows.some((r) => !Array.isArray(r) || r.length !== d)) {
    throw new DitError(`the FD reference ${file} is not mu (D) and sigma (D×D); rerun training/fd_reference.py`);
  }
  return { mu, sigma: Float64Array.from(rows.flat()), count: Number(raw.count) };
}

export interface EmbeddedQuality {
  /** Fréchet distance to the Fashion-MNIST test set's features. */
  readonly fd: number;
  /** Share of images the classifier puts in their label's class. */
  readonly accuracy: number;
  /** Mean softmax probability of the label. */
  readonly meanPLabel: number;
  /** Images scored. */
  readonly count: number;
}

/** Streams images through the classifier: feature statistics and label scores, batch by batch. */
export class EmbeddedScorer {
  private readonly stats: FeatureStatistics;
  private hits = 0;
  private pLabel = 0;
  private n = 0;

  constructor(private readonly classifier: Classifier) {
    assert(classifier.featureSize > 0, 'the classifier has no feature layer');
    this.stats = new FeatureStatistics(classifier.featureSize);
  }

  /** 8-bit RGB images (channel 0 is read; the embedded model's PNGs are grey) and their labels. */
  async add(images: readonly RgbImage[], labels: readonly number[]): Promise<void> {
    assert(images.length === labels.length && images.length > 0, () => `${images.length} images with ${labels.length} labels`);
    const { width, height } = images[0]!;
    const plane = width * height;
    const data = new Float32Array(images.length * plane);
    images.forEach((im, b) => {
      assert(im.width === width && im.height === height, 'images of one batch differ in size');
      for (let p = 0; p < plane; p++) data[b * plane + p] = im.data[3 * p]! / 127.5 - 1;
    });
    const { logits, features } = await this.classifier.embed({ data, shape: [images.length, 1, height, width] });
    this.stats.add(features);
    const s = scoreLogits(logits, this.classifier.numClasses, labels);
    this.hits += s.accuracy * images.length;
    this.pLabel += s.meanConfidence * images.length;
    this.n += images.length;
  }

  /** μ and Σ of the features so far (float64, np.cov's N − 1); needs ≥ 2 images. */
  statistics(): GaussianStats {
    return this.stats.finish();
  }

  /** FD against `reference` (default: the shipped test-set statistics); needs ≥ 2 images. */
  finish(reference: GaussianStats = embeddedReference()): EmbeddedQuality {
    return { fd: frechetDistance(this.stats.finish(), reference), accuracy: this.hits / this.n, meanPLabel: this.pLabel / this.n, count: this.n };
  }
}

/** Most images per classifier call. */
export const SCORE_BATCH = 256;

/** FD, class accuracy and mean p(label) of a set of embedded-model images (the library's one call). */
export async function embeddedFd(classifier: Classifier, images: readonly RgbImage[], labels: readonly number[], reference?: GaussianStats): Promise<EmbeddedQuality> {
  const scorer = new EmbeddedScorer(classifier);
  for (let s = 0; s < images.length; s += SCORE_BATCH) await scorer.add(images.slice(s, s + SCORE_BATCH), labels.slice(s, s + SCORE_BATCH));
  return scorer.finish(reference);
}
