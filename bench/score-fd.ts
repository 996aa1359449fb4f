/**
 * Rescores finished `dit generate` folders of the embedded model without generating anything: FD,
 * precision/recall (k = 3), class accuracy overall and per class, mean p(label) (sweep/quality.ts),
 * plus real training and test images of each folder's sample count scored the same way (the floor).
 *
 *   npx tsx bench/score-fd.ts DIR... [--no-floor] [--threads N]
 *   npx tsx bench/score-fd.ts /work/runs/fd-v1/cfg-*       (DIR.npz arguments name their folder)
 *
 * A folder that is not complete yet (a run still writing it) is skipped with a line on stderr.
 * Prints the tables (bench/fd-report.ts), then one JSON line.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readBulkConfig, scanBulkFolder, scoreBulkFolder } from '../src/bulk/run.js';
import { openEmbeddedClassifier } from '../src/model-files.js';
import { resolveLoadOptions } from '../src/options.js';
import { arg } from './args.js';
import { printQualityTables, realFloor, type QualityRow } from './fd-report.js';

const threadsFlag = process.argv.includes('--threads') ? arg('--threads', '') : undefined;
const folders = [
  ...new Set(
    process.argv
      .slice(2)
      .filter((a, i, all) => !a.startsWith('--') && all[i - 1] !== '--threads')
      .map((a) => path.resolve(a.endsWith('.npz') ? a.slice(0, -'.npz'.length) : a)),
  ),
].filter((dir) => fs.existsSync(dir) && fs.statSync(dir).isDirectory());
if (folders.length === 0) {
  console.error('usage: npx tsx bench/score-fd.ts DIR... [--no-floor] [--threads N] (dit generate folders of the embedded model)');
  process.exit(2);
}

const classifier = await openEmbeddedClassifier({ threads: resolveLoadOptions({ threads: threadsFlag }).threads });
const rows: QualityRow[] = [];
const seconds: Record<string, number> = {};
for (const dir of folders) {
  const n = readBulkConfig(dir).numSamples;
  const missing = scanBulkFolder(dir, n).missing.length;
  if (missing > 0) {
    process.stderr.write(`${dir}: skipped, ${missing} of ${n} images missing (still being written?)\n`);
    continue;
  }
  const t0 = performance.now();
  const q = await scoreBulkFolder(dir, classifier);
  seconds[dir] = (performance.now() - t0) / 1000;
  rows.push({ name: path.basename(dir), q });
  process.stderr.write(`${dir}: fd ${q.fd.toFixed(3)}, precision ${q.precision?.toFixed(3)}, recall ${q.recall?.toFixed(3)}, accuracy ${q.accuracy.toFixed(3)} (${seconds[dir]!.toFixed(1)} s)\n`);
}
const floor: QualityRow[] = [];
if (!process.argv.includes('--no-floor')) for (const n of new Set(rows.map((r) => r.q.count))) floor.push(...(await realFloor(classifier, n)));
await classifier.release();

printQualityTables([...rows, ...floor]);
console.log(JSON.stringify({ bench: 'score-fd', scored: Object.keys(seconds), seconds, rows, realFloor: floor }));
