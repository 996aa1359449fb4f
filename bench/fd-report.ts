/**
 * What bench/generate-fd.ts and bench/score-fd.ts share: real Fashion-MNIST images scored like
 * samples (the floor of a sample count), and the tables: one row per set (FD, precision, recall,
 * class accuracy, the worst class and what its misses were taken for, mean p(label)), then accuracy /
 * mean p(label) per class and set.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FASHION_MNIST_CLASSES } from '../src/classes.js';
import { className } from '../src/class-names.js';
import { embeddedFd, embeddedRealManifold, formatTakenFor, worstClass, type EmbeddedQuality } from '../src/sweep/quality.js';
import type { RgbImage } from '../src/image/grid.js';
import type { Classifier } from '../src/runtime/index.js';

const DATA = '/usr/share/datasets/fashion-mnist';

function idx(file: string): Uint8Array {
  const b = gunzipSync(fs.readFileSync(path.join(DATA, file)));
  return b.subarray(4 + 4 * b[3]!);
}

/** The first n images of a split, 28→32 padded with the background as training and fd_reference.py do. */
export function realImages(split: 'train' | 't10k', n: number): { images: RgbImage[]; labels: number[] } {
  const pixels = idx(`${split}-images-idx3-ubyte.gz`);
  const labels = Array.from(idx(`${split}-labels-idx1-ubyte.gz`)).slice(0, n);
  const images = labels.map((_, i) => {
    const data = new Uint8Array(32 * 32 * 3);
    for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) data.fill(pixels[i * 784 + y * 28 + x]!, 3 * ((y + 2) * 32 + x + 2), 3 * ((y + 2) * 32 + x + 3));
    return { width: 32, height: 32, data };
  });
  return { images, labels };
}

export interface QualityRow {
  readonly name: string;
  readonly q: EmbeddedQuality;
  /** Generation time and rate, when the run wrote every image itself. */
  readonly seconds?: number | null;
  readonly imagesPerSecond?: number | null;
}

/**
 * The floor of n samples: the first n training images (not in the reference: the honest floor) and
 * the first n test images (inside the reference, so their precision is 1 by construction), scored
 * the same way.
 */
export async function realFloor(classifier: Classifier, n: number): Promise<QualityRow[]> {
  const real = embeddedRealManifold();
  const rows: QualityRow[] = [];
  for (const [split, name] of [['train', `real training images (first ${n})`], ['t10k', `real test images (first ${n}; in the reference)`]] as const) {
    const { images, labels } = realImages(split, n);
    rows.push({ name, q: await embeddedFd(classifier, images, labels, undefined, real) });
  }
  return rows;
}

const f = (v: number | undefined, digits: number) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));
const name = (label: number) => className(FASHION_MNIST_CLASSES, label);

/** The summary table, then the per-class table (accuracy / mean p(label), one column per set). */
export function printQualityTables(rows: readonly QualityRow[]): void {
  const timed = rows.some((r) => r.seconds != null);
  console.log(`| set | n | FD | precision | recall | class acc. | worst class | mean p(label) |${timed ? ' s | images/s |' : ''}`);
  console.log(`| --- | --- | --- | --- | --- | --- | --- | --- |${timed ? ' --- | --- |' : ''}`);
  for (const { name: set, q, seconds, imagesPerSecond } of rows) {
    const w = worstClass(q.perClass);
    const time = timed ? ` ${f(seconds ?? undefined, 0)} | ${f(imagesPerSecond ?? undefined, 2)} |` : '';
    console.log(`| ${set} | ${q.count} | ${q.fd.toFixed(2)} | ${f(q.precision, 3)} | ${f(q.recall, 3)} | ${q.accuracy.toFixed(3)} | ${name(w.label)} ${w.accuracy.toFixed(3)}${formatTakenFor(w)} | ${q.meanPLabel.toFixed(3)} |${time}`);
  }
  console.log('');
  console.log('class accuracy / mean p(label) by label class:');
  console.log(`| class | ${rows.map((r) => r.name).join(' | ')} |`);
  console.log(`| --- |${rows.map(() => ' --- |').join('')}`);
  const classes = rows[0]?.q.perClass.length ?? 0;
  for (let c = 0; c < classes; c++) {
    console.log(`| ${name(c)} | ${rows.map((r) => `${f(r.q.perClass[c]!.accuracy, 3)} / ${f(r.q.perClass[c]!.meanPLabel, 3)}`).join(' | ')} |`);
  }
}
