/**
 * dit generate through the Redis work queue (bulk/queue.ts) against one process without a queue, on
 * the embedded model: a private redis-server on a loopback port (test/helpers/redis-server.ts), then
 *   - baseline: generateRange over every index in this process, then the merge (first and last);
 *   - 1, 2, 3 … `dit worker` processes (from source, --threads 1 each) on the same run, from the
 *     enqueue to the merged DIR.npz (the workers' model loads included, and reported apart).
 * The queue's overhead is each worker's time outside generateRange (taking jobs, lock renewal,
 * completing them, the folder scan after each chunk, the merge), less its model load, as a share of
 * its time from its first chunk to its last.
 *
 *   npx tsx bench/queue.ts [--num-samples 96] [--steps 25] [--chunk-size 16] [--batch-size 16]
 *                          [--workers 1,2,3] [--threads 1] [--out /tmp/dit-queue-bench]
 *
 * Prints a table, then one JSON line. Everything runs in one process tree on one machine: compare
 * rows of one run only (other load on the machine moves them all).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPipeline } from '../src/pipeline.js';
import { resolveBulkOptions, resolveRedisUrl } from '../src/options.js';
import { generateRange, mergeBulkFolder, openBulkFolder, planBulk } from '../src/bulk/run.js';
import { chunkRanges } from '../src/bulk/plan.js';
import { chunkJobId, connectQueue, enqueueRun, runHash, runStatus, type ChunkResult } from '../src/bulk/queue.js';
import { findRedisServer, startRedisServer } from '../test/helpers/redis-server.js';
import { arg } from './args.js';

const n = Number(arg('--num-samples', '96'));
const steps = arg('--steps', '25');
const chunkSize = Number(arg('--chunk-size', '16'));
const batchSize = Number(arg('--batch-size', '16'));
const workerCounts = arg('--workers', '1,2,3').split(',').map(Number);
const threads = arg('--threads', '1');
const outRoot = arg('--out', '/tmp/dit-queue-bench');
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const binary = findRedisServer();
if (binary === undefined) throw new Error('no redis-server on PATH: apt-get install redis-server');
const server = await startRedisServer(binary);
const redis = resolveRedisUrl(server.url);
fs.rmSync(outRoot, { recursive: true, force: true });

interface Row {
  mode: string;
  workers: number;
  images: number;
  seconds: number;
  imagesPerSecond: number;
  loadSeconds: number | null;
  overheadPercent: number | null;
}
const rows: Row[] = [];
const pipeline = await createPipeline({ threads: Number(threads) });
const bulk = resolveBulkOptions({ numSamples: n, batchSize });
const generate = { numSamplingSteps: steps };

/** The baseline: this process, no queue (run first and last: the machine's load moves between rows). */
async function noQueue(label: string): Promise<void> {
  const dir = path.join(outRoot, `no-queue-${label}`);
  const config = planBulk(pipeline, generate, bulk);
  openBulkFolder(dir, config);
  const t0 = performance.now();
  await generateRange(pipeline, config, { start: 0, end: n }, dir, { batchSize });
  mergeBulkFolder(dir);
  const seconds = (performance.now() - t0) / 1000;
  rows.push({ mode: `one process, no queue (${label})`, workers: 1, images: n, seconds, imagesPerSecond: n / seconds, loadSeconds: null, overheadPercent: null });
  process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
}
await noQueue('first');

function spawnWorker(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '-e', "const m = await import('./src/cli/main.ts'); process.exitCode = await m.main(['node', 'dit', ...process.argv.slice(1)])", 'worker', '--queue', server.url, '--threads', threads],
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      log += c.toString();
      if (log.includes('waiting for chunks')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`dit worker exited with ${code}: ${log}`)));
  });
}

const q = await connectQueue(redis);
for (const count of workerCounts) {
  const dir = path.resolve(outRoot, `workers-${count}`);
  const workers = await Promise.all(Array.from({ length: count }, spawnWorker));
  const config = planBulk(pipeline, generate, bulk);
  openBulkFolder(dir, config);
  const hash = runHash(config, dir);
  const t0 = performance.now();
  await enqueueRun(q, { dir, load: {}, generate, numSamples: n, labels: bulk.labels, batchSize, chunkSize, hash });
  for (;;) {
    const s = await runStatus(q, dir);
    if (s?.merge.file !== undefined) break;
    if (s && s.failed.length > 0) throw new Error(`a chunk failed: ${s.failed[0]!.reason}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const seconds = (performance.now() - t0) / 1000;
  // Per worker: its span from first chunk start to last chunk end, and what generateRange and the model load took of it.
  const jobs = await Promise.all(chunkRanges({ start: 0, end: n }, chunkSize).map((r) => q.queue.getJob(chunkJobId(hash, r))));
  const byWorker = new Map<string, { first: number; last: number; generate: number; load: number }>();
  for (const job of jobs) {
    const r = job!.returnvalue as ChunkResult;
    const w = byWorker.get(r.worker) ?? { first: Infinity, last: 0, generate: 0, load: 0 };
    w.first = Math.min(w.first, job!.processedOn!);
    w.last = Math.max(w.last, job!.finishedOn!);
    w.generate += r.generateMs;
    w.load += r.loadMs;
    byWorker.set(r.worker, w);
  }
  let span = 0;
  let outside = 0;
  let load = 0;
  for (const w of byWorker.values()) {
    span += w.last - w.first - w.load;
    outside += w.last - w.first - w.load - w.generate;
    load = Math.max(load, w.load);
  }
  rows.push({ mode: `dit worker × ${count} via Redis`, workers: count, images: n, seconds, imagesPerSecond: n / seconds, loadSeconds: load / 1000, overheadPercent: (100 * outside) / span });
  process.stderr.write(`${JSON.stringify(rows.at(-1))}\n`);
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => new Promise((r) => w.once('exit', r))));
}
await q.close();
await noQueue('last');
await pipeline.dispose();
await server.stop();

const pad = (s: string, k: number) => s.padEnd(k);
console.log(`embedded model, ${n} images, ${steps} DDPM steps, batch ${batchSize}, chunks of ${chunkSize}, --threads ${threads} per process`);
console.log(`${pad('mode', 34)}${pad('wall s', 9)}${pad('images/s', 10)}${pad('model load s', 14)}queue overhead % of chunk time`);
for (const r of rows) {
  console.log(`${pad(r.mode, 34)}${pad(r.seconds.toFixed(1), 9)}${pad(r.imagesPerSecond.toFixed(2), 10)}${pad(r.loadSeconds === null ? '—' : r.loadSeconds.toFixed(1), 14)}${r.overheadPercent === null ? '—' : r.overheadPercent.toFixed(2)}`);
}
console.log(JSON.stringify({ bench: 'queue', numSamples: n, steps: Number(steps), batchSize, chunkSize, threads: Number(threads), rows }));
