/**
 * FID Inception throughput (src/runtime/inception-session.ts) with the seeded random weights of the
 * conformance fixture (no download): N random 8-bit images of one size, in batches, after one
 * warm-up batch. The graph resizes every image to 299×299 first, so the input size barely matters.
 *
 *   npx tsx bench/inception.ts [--images 64] [--batch 32] [--size 64] [--threads 2]
 *
 * Prints a table, then one JSON line.
 */
import os from 'node:os';
import { createInceptionFeatures } from '../src/runtime/inception-session.js';
import { randomInceptionWeights } from '../test/helpers/inception-weights.js';
import { arg } from './args.js';

const images = Number(arg('--images', '64'));
const batch = Number(arg('--batch', '32'));
const size = Number(arg('--size', '64'));
const threads = Number(arg('--threads', String(Math.max(1, os.availableParallelism()))));
const net = createInceptionFeatures(randomInceptionWeights(2015), { threads });
const data = new Uint8Array(batch * size * size * 3).map((_, i) => (i * 2654435761) >>> 24);
const t0 = performance.now();
await net.features({ data, count: batch, height: size, width: size }); // builds the session
const tBuild = performance.now();
let done = 0;
while (done < images) {
  const n = Math.min(batch, images - done);
  await net.features({ data: data.subarray(0, n * size * size * 3), count: n, height: size, width: size });
  done += n;
}
const t1 = performance.now();
await net.release();
const seconds = (t1 - tBuild) / 1000;
const result = { images, batch, size, threads, firstBatchSeconds: (tBuild - t0) / 1000, seconds, imagesPerSecond: images / seconds, loadAverage: os.loadavg()[0] };
console.log('| images | batch | size | threads | first batch (build + run) | timed | images/s | load average |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
console.log(`| ${images} | ${batch} | ${size}×${size} | ${threads} | ${result.firstBatchSeconds.toFixed(1)} s | ${seconds.toFixed(1)} s | ${result.imagesPerSecond.toFixed(2)} | ${result.loadAverage.toFixed(1)} |`);
console.log(JSON.stringify({ bench: 'inception', node: process.version, ...result }));
