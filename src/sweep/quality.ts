/**
 * Distribution quality of the embedded model's samples with nothing downloaded: the Fréchet
 * distance between the shipped classifier's penultimate features (128-d, after global average
 * pooling) of the samples and of the Fashion-MNIST test set (assets/fashion-mnist/fd-reference.json,
 * made by training/fd_reference.py), plus class accuracy and the mean probability of the label,
 * overall and per label class, and on request improved precision and recall (k = 3) against the
 * test set's own feature rows (assets/fashion-mnist/fd-real-features.safetensors, and their k-NN
 * radii in fd-reference.json).
 *
 * Like FID, the numbers depend on the sample count: the covariance of a few images is a poor
 * estimate, and FD is biased upward for small sets (500 real test images already score ≈ 5 against
 * the full test set). Recall rises as the generated set shrinks (its k-NN balls grow). Compare
 * numbers of equally many samples; use ≥ 2,000 for curves.
 *
 * Images are scored as 8-bit pixels, as written to PNG (and as the test set is): channel 0 of the
 * RGB image, mapped to [-1, 1] with u / 127.5 − 1 as in training.
 */
import fs from 'node:fs';
import { assert, DitError } from '../errors.js';
import { assetPath } from '../assets.js';
import { readSafetensors } from '../checkpoint/index.js';
import { FeatureStatistics, frechetDistance, type GaussianStats } from '../metrics/frechet.js';
import { precisionRecall, type FeatureRows } from '../metrics/precision-recall.js';
import type { RgbImage } from '../image/grid.js';
import type { Classifier } from '../runtime/index.js';
import { labelScores } from './metrics.js';
import { FASHION_MNIST_CLASSES } from '../classes.js';
import { className } from '../class-names.js';

export const EMBEDDED_FD_REFERENCE = assetPath('fashion-mnist', 'fd-reference.json');
export const EMBEDDED_REAL_FEATURES = assetPath('fashion-mnist', 'fd-real-features.safetensors');

const REBUILD = 'reinstall dit-ts or rerun training/fd_reference.py';

function readReferenceJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new DitError(`cannot read the FD reference ${file}: ${(err as Error).message}; ${REBUILD}`);
  }
}

/** The shipped test-set statistics (μ, Σ in float64). */
export function embeddedReference(file = EMBEDDED_FD_REFERENCE): GaussianStats & { readonly count: number } {
  const raw = readReferenceJson(file);
  const mu = Array.isArray(raw.mu) ? Float64Array.from(raw.mu as number[]) : new Float64Array();
  const rows = Array.isArray(raw.sigma) ? (raw.sigma as number[][]) : [];
  const d = mu.length;
  if (d === 0 || rows.length !== d || rows.some((r) => !Array.isArray(r) || r.length !== d)) {
    throw new DitError(`the FD reference ${file} is not mu (D) and sigma (D×D); rerun training/fd_reference.py`);
  }
  return { mu, sigma: Float64Array.from(rows.flat()), count: Number(raw.count) };
}

/** The real manifold of precision/recall: the test set's feature rows and their squared k-NN radii. */
export interface RealManifold {
  readonly features: FeatureRows;
  readonly radii2: Float64Array;
  readonly k: number;
}

/** The shipped test-set feature rows (float16 on disk, 10,000 × 128; float32 here) and their k-NN radii (float64, NumPy's, of those rows). */
export function embeddedRealManifold(featuresFile = EMBEDDED_REAL_FEATURES, referenceFile = EMBEDDED_FD_REFERENCE): RealManifold {
  let data: Float32Array;
  let shape: readonly number[];
  const weights = readSafetensors(featuresFile);
  try {
    const t = weights.tensors.get('features');
    if (t === undefined || (t.dtype !== 'F16' && t.dtype !== 'F32') || t.shape.length !== 2) throw new DitError(`${featuresFile} has no float16/float32 features (N×D); ${REBUILD}`);
    shape = t.shape;
    data = t.toFloat32();
  } finally {
    weights.close();
  }
  const raw = readReferenceJson(referenceFile);
  const radii = Array.isArray(raw.knn_radii2) ? Float64Array.from(raw.knn_radii2 as number[]) : new Float64Array();
  const k = raw.knn_k;
  if (radii.length !== shape[0] || !Number.isInteger(k) || radii.some((r) => !(r >= 0))) {
    throw new DitError(`the FD reference ${referenceFile} does not hold knn_k and one non-negative knn_radii2 per row of ${featuresFile} (${shape[0]} rows); rerun training/fd_reference.py`);
  }
  return { features: { data, dim: shape[1]! }, radii2: radii, k: k as number };
}

/** The classifier's verdict on the images of one label class. */
export interface ClassQuality {
  readonly label: number;
  /** Images with this label (0: accuracy and meanPLabel are NaN). */
  readonly count: number;
  readonly accuracy: number;
  readonly meanPLabel: number;
  /** How many of these images the classifier gave each class, by class id (entry `label`: the hits). */
  readonly predicted: readonly number[];
}

/**
 * The classes a label's misclassified images were given, most first (ties by class id), with their
 * counts, e.g. [[0, 3], [2, 3], [4, 3]] for shirts taken for T-shirt/top, Pullover and Coat 3 times each.
 */
export function takenFor(c: Pick<ClassQuality, 'label' | 'predicted'>): [label: number, count: number][] {
  return c.predicted
    .map((count, label): [number, number] => [label, count])
    .filter(([label, count]) => label !== c.label && count > 0)
    .sort((a, b) => b[1] - a[1] || a[0] - b[0]);
}

/** " (taken for Coat 3, Pullover 2)": the classes a label's misclassified images were given; "" when none were. */
export function formatTakenFor(c: Pick<ClassQuality, 'label' | 'predicted'>): string {
  const misses = takenFor(c);
  return misses.length === 0 ? '' : ` (taken for ${misses.map(([label, count]) => `${className(FASHION_MNIST_CLASSES, label)} ${count}`).join(', ')})`;
}

/** The class of lowest accuracy among those with images (the first of equals, by class id). */
export function worstClass<C extends { readonly count: number; readonly accuracy: number }>(perClass: readonly C[]): C {
  return perClass.filter((c) => c.count > 0).reduce((a, b) => (b.accuracy < a.accuracy ? b : a));
}

export interface EmbeddedQuality {
  /** Fréchet distance to the Fashion-MNIST test set's features (NaN for one image: no covariance). */
  readonly fd: number;
  /** Share of images the classifier puts in their label's class. */
  readonly accuracy: number;
  /** Mean softmax probability of the label. */
  readonly meanPLabel: number;
  /** Images scored. */
  readonly count: number;
  /** Accuracy and mean p(label) per label class, one entry per class of the classifier, by id. */
  readonly perClass: readonly ClassQuality[];
  /** Improved precision and recall against the test set (when asked for and more than k images). */
  readonly precision?: number;
  readonly recall?: number;
}

/** Streams images through the classifier: feature statistics and label scores, batch by batch. */
export class EmbeddedScorer {
  private readonly stats: FeatureStatistics;
  private readonly pLabel: Float64Array;
  private readonly counts: Float64Array;
  /** (label, top class) counts, row-major by label; the diagonal holds the hits. */
  private readonly confusion: Float64Array;
  /** Every feature row so far, for precision/recall. */
  private readonly rows: Float32Array[] = [];
  private n = 0;

  constructor(private readonly classifier: Classifier) {
    assert(classifier.featureSize > 0, 'the classifier has no feature layer');
    this.stats = new FeatureStatistics(classifier.featureSize);
    this.pLabel = new Float64Array(classifier.numClasses);
    this.counts = new Float64Array(classifier.numClasses);
    this.confusion = new Float64Array(classifier.numClasses * classifier.numClasses);
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
    this.rows.push(Float32Array.from(features));
    const k = this.classifier.numClasses;
    const { pLabel, predicted } = labelScores(logits, k, labels);
    labels.forEach((label, i) => {
      assert(Number.isInteger(label) && label >= 0 && label < k, () => `label ${label} is not a class of the classifier`);
      this.pLabel[label] += pLabel[i]!;
      this.counts[label]++;
      this.confusion[label * k + predicted[i]!]++;
    });
    this.n += images.length;
  }

  /** μ and Σ of the features so far (float64, np.cov's N − 1); needs ≥ 2 images. */
  statistics(): GaussianStats {
    return this.stats.finish();
  }

  /** The feature rows so far. */
  features(): FeatureRows {
    const data = new Float32Array(this.n * this.classifier.featureSize);
    let at = 0;
    for (const r of this.rows) {
      data.set(r, at);
      at += r.length;
    }
    return { data, dim: this.classifier.featureSize };
  }

  /**
   * FD against `reference` (default: the shipped test-set statistics; NaN for one image), and with
   * `real` precision and recall against that manifold (when there are more than its k images).
   */
  finish(reference: GaussianStats = embeddedReference(), real?: RealManifold): EmbeddedQuality {
    const sum = (a: Float64Array) => a.reduce((s, v) => s + v, 0);
    const k = this.classifier.numClasses;
    const hits = Array.from(this.counts, (_, label) => this.confusion[label * k + label]!);
    const perClass = Array.from(this.counts, (count, label) => ({
      label,
      count,
      accuracy: hits[label]! / count,
      meanPLabel: this.pLabel[label]! / count,
      predicted: Array.from(this.confusion.subarray(label * k, (label + 1) * k)),
    }));
    const pr = real !== undefined && this.n > real.k ? precisionRecall(real.features, this.features(), real.k, real.radii2) : undefined;
    return {
      fd: this.n >= 2 ? frechetDistance(this.stats.finish(), reference) : NaN,
      accuracy: hits.reduce((s, v) => s + v, 0) / this.n,
      meanPLabel: sum(this.pLabel) / this.n,
      count: this.n,
      perClass,
      ...(pr ? { precision: pr.precision, recall: pr.recall } : {}),
    };
  }
}

/** Most images per classifier call. */
export const SCORE_BATCH = 256;

/**
 * FD, class accuracy and mean p(label) (overall and per class) of a set of embedded-model images,
 * and with `real` (embeddedRealManifold()) precision and recall: the library's one call.
 */
export async function embeddedFd(classifier: Classifier, images: readonly RgbImage[], labels: readonly number[], reference?: GaussianStats, real?: RealManifold): Promise<EmbeddedQuality> {
  const scorer = new EmbeddedScorer(classifier);
  for (let s = 0; s < images.length; s += SCORE_BATCH) await scorer.add(images.slice(s, s + SCORE_BATCH), labels.slice(s, s + SCORE_BATCH));
  return scorer.finish(reference, real);
}
