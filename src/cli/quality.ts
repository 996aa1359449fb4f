/**
 * The embedded model's quality lines after a bulk run (`dit generate`, locally or through the
 * queue): FD, class accuracy, mean p(label), precision and recall, then accuracy / mean p(label)
 * per label class and the worst class with what its misses were taken for (sweep/quality.ts,
 * bulk/run.ts scoreBulkFolder).
 */
import { FASHION_MNIST_CLASSES } from '../classes.js';
import { className } from '../class-names.js';
import { resolveLoadOptions } from '../options.js';
import { openEmbeddedClassifier } from '../model-files.js';
import { scoreBulkFolder } from '../bulk/run.js';
import { formatTakenFor, worstClass, type EmbeddedQuality } from '../sweep/quality.js';
import type { Progress } from './progress.js';

/** The two stdout lines of a scored folder. */
export function formatEmbeddedQuality(q: EmbeddedQuality): string[] {
  const pr = q.precision === undefined ? '' : ` · precision ${q.precision.toFixed(4)} · recall ${q.recall!.toFixed(4)}`;
  const scored = q.perClass.filter((c) => c.count > 0);
  const worst = worstClass(scored);
  const name = (label: number) => className(FASHION_MNIST_CLASSES, label);
  return [
    `fd ${Number.isNaN(q.fd) ? '– (one image has no covariance)' : q.fd.toFixed(3)} · class accuracy ${q.accuracy.toFixed(4)} · mean p(label) ${q.meanPLabel.toFixed(4)}${pr} · ${q.count} images (classifier features vs the Fashion-MNIST test set)`,
    `by class, accuracy/mean p(label): ${scored.map((c) => `${name(c.label)} ${c.accuracy.toFixed(3)}/${c.meanPLabel.toFixed(3)}`).join(' · ')} · worst: ${name(worst.label)} ${worst.accuracy.toFixed(3)}${formatTakenFor(worst)}`,
  ];
}

/** Scores a complete folder of embedded-model images and prints its quality lines on stdout. */
export async function printEmbeddedQuality(dir: string, progress: Progress, threads: string | undefined): Promise<void> {
  progress.phase('scoring with the Fashion-MNIST classifier');
  const classifier = await openEmbeddedClassifier({ threads: threads === undefined ? undefined : resolveLoadOptions({ threads }).threads });
  try {
    const q = await scoreBulkFolder(dir, classifier);
    process.stdout.write(`${formatEmbeddedQuality(q).join('\n')}\n`);
  } finally {
    await classifier.release();
  }
}
