/**
 * dit generate end to end on the embedded model (3 DDPM steps, 7 images): the .npz bytes do not
 * depend on shards or batch size, a resume writes only what is missing, a merge refuses a folder
 * with a missing or extra index, another configuration (other weights of the same size included) is
 * refused, and image i is what
 * `dit sample --seed imageSeed(seed, i)` gives for its label.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { createPipeline, type Pipeline } from '../../src/pipeline.js';
import { imageLabel, imageSeed } from '../../src/bulk/plan.js';
import { generateRange, mergeBulkFolder, openBulkFolder, readBulkConfig, scoreBulkFolder } from '../../src/bulk/run.js';
import { openEmbeddedClassifier } from '../../src/model-files.js';
import { EMBEDDED_MODEL_DIR } from '../../src/assets.js';
import { formatEmbeddedQuality } from '../../src/cli/quality.js';
import { encodePng } from '../../src/image/png.js';
import { CheckpointFile } from '../../src/checkpoint/file.js';
import { openZip } from '../../src/checkpoint/zip.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-generate-'));
const cache = path.join(root, 'cache');
const N = 7;
const RUN = ['--num-samples', String(N), '--num-sampling-steps', '3', '--seed', '3', '--cache-dir', cache, '--threads', '1', '--quiet'];

async function generate(out: string, extra: string[] = [], env: Record<string, string> = {}) {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await runCli(['generate', ...RUN, '--out', out, ...extra]);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const single = path.join(root, 'single');
let singleNpz: Buffer;
let singleStdout: string;

beforeAll(async () => {
  const r = await generate(single, ['--batch-size', '7']);
  expect(r.code, r.stderr).toBe(0);
  singleNpz = fs.readFileSync(`${single}.npz`);
  singleStdout = r.stdout;
}, 120_000);

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('dit generate', () => {
  it('writes one PNG per index, generate.json, and DIR.npz with arr_0 uint8 (N, 32, 32, 3) and the labels; prints the embedded model\'s quality', async () => {
    expect(fs.readdirSync(single).sort()).toEqual([...Array.from({ length: N }, (_, i) => `00000${i}.png`), 'generate.json']);
    const lines = singleStdout.split('\n');
    expect(lines[0]).toBe(`${single}.npz`);
    expect(lines[1]).toMatch(/^fd \d+\.\d{3} · class accuracy [01]\.\d{4} · mean p\(label\) [01]\.\d{4} · precision [01]\.\d{4} · recall [01]\.\d{4} · 7 images \(classifier features vs the Fashion-MNIST test set\)$/);
    // Labels 0..6, one image each: every class's accuracy is 0 or 1.
    expect(lines[2]).toMatch(/^by class, accuracy\/mean p\(label\): T-shirt\/top [01]\.000\/[01]\.\d{3} · Trouser [^·]+ · Pullover [^·]+ · Dress [^·]+ · Coat [^·]+ · Sandal [^·]+ · Shirt [01]\.000\/[01]\.\d{3} · worst: \S+/);
    expect(lines.length).toBe(4);
    // The numbers are the library's for the folder.
    const classifier = await openEmbeddedClassifier({ threads: 1 });
    try {
      expect(lines.slice(1, 3)).toEqual(formatEmbeddedQuality(await scoreBulkFolder(single, classifier)));
    } finally {
      await classifier.release();
    }
    const file = new CheckpointFile(`${single}.npz`);
    try {
      const zip = openZip(file);
      expect([...zip.entries.keys()]).toEqual(['arr_0.npy', 'labels.npy']);
      const arr = zip.entries.get('arr_0.npy')!;
      const head = Buffer.from(file.read(zip.dataOffset(arr), 128, 'arr_0 header')).toString('latin1');
      expect(head).toContain("{'descr': '|u1', 'fortran_order': False, 'shape': (7, 32, 32, 3), }");
      expect(arr.size).toBe(128 + N * 32 * 32 * 3);
      // The labels: classes 0..9 in turn.
      const lab = zip.entries.get('labels.npy')!;
      const labels = new BigInt64Array(file.read(zip.dataOffset(lab) + 128, N * 8, 'labels').slice().buffer);
      expect(Array.from(labels, Number)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    } finally {
      file.close();
    }
  });

  it('one image: the merge and the scores without FD or precision/recall (a covariance needs two images, the k-NN radii four)', async () => {
    const out = path.join(root, 'one');
    const r = await runCli(['generate', ...RUN, '--num-samples', '1', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${out}\\.npz\\nfd – \\(one image has no covariance\\) · class accuracy [01]\\.0000 · mean p\\(label\\) [01]\\.\\d{4} · 1 images \\(classifier [^\\n]+\\nby class, accuracy/mean p\\(label\\): T-shirt/top [01]\\.000/[01]\\.\\d{3} · worst: T-shirt/top (1\\.000|0\\.000 \\(taken for [^)]+ 1\\))\\n$`));
  }, 60_000);

  it('image i equals dit sample --seed imageSeed(seed, i) with its label alone (the official one-image run)', async () => {
    const pipeline: Pipeline = await createPipeline({ cacheDir: cache, threads: 1 });
    try {
      for (const i of [0, 4]) {
        const r = await pipeline.generate({ classLabels: [imageLabel({ kind: 'balanced', classes: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }, i)], numSamplingSteps: 3, seed: imageSeed(3n, i) });
        expect(encodePng(r.imagesRgb![0]!).equals(fs.readFileSync(path.join(single, `00000${i}.png`)))).toBe(true);
      }
    } finally {
      await pipeline.dispose();
    }
  }, 60_000);

  it('3 shards (--shard, a Slurm array, a Kubernetes Indexed Job), batch size 2, give the same .npz bytes; only the last shard merges', async () => {
    const out = path.join(root, 'sharded');
    const a = await generate(out, ['--shard', '0/3', '--batch-size', '2']);
    expect(a.code, a.stderr).toBe(0);
    expect(fs.existsSync(`${out}.npz`)).toBe(false);
    const b = await generate(out, ['--batch-size', '2'], { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '3' });
    expect(b.code, b.stderr).toBe(0);
    expect(fs.readdirSync(out).filter((f) => f.endsWith('.png')).sort()).toEqual(['000000.png', '000001.png', '000002.png', '000003.png']);
    const c = await generate(out, ['--batch-size', '2', '--num-shards', '3'], { JOB_COMPLETION_INDEX: '2' });
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout.split('\n')[0]).toBe(`${out}.npz`);
    expect(fs.readFileSync(`${out}.npz`).equals(singleNpz)).toBe(true);
  }, 120_000);

  it('two workers writing overlapping ranges of one folder at once (a retried queue chunk) leave the same .npz', async () => {
    const out = path.join(root, 'concurrent');
    const config = readBulkConfig(single);
    const [p1, p2] = await Promise.all([createPipeline({ cacheDir: cache, threads: 1 }), createPipeline({ cacheDir: cache, threads: 1 })]);
    try {
      openBulkFolder(out, config);
      openBulkFolder(out, config);
      await Promise.all([
        generateRange(p1, config, { start: 0, end: 5 }, out, { batchSize: 2 }),
        generateRange(p2, config, { start: 3, end: 7 }, out, { batchSize: 3 }),
      ]);
    } finally {
      await Promise.all([p1.dispose(), p2.dispose()]);
    }
    expect(fs.readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]);
    expect(fs.readFileSync(mergeBulkFolder(out).file).equals(singleNpz)).toBe(true);
  }, 60_000);

  it('a resume after a kill writes only the missing indexes', async () => {
    const out = path.join(root, 'resume');
    fs.cpSync(single, out, { recursive: true });
    fs.rmSync(path.join(out, '000002.png'));
    fs.rmSync(path.join(out, '000005.png'));
    fs.writeFileSync(path.join(out, '.000003.png.123.456.tmp'), 'half-written by a killed process');
    const old = new Date('2020-01-01T00:00:00Z');
    for (const f of fs.readdirSync(out)) fs.utimesSync(path.join(out, f), old, old);
    const r = await generate(out, ['--batch-size', '3']);
    expect(r.code, r.stderr).toBe(0);
    const rewritten = fs.readdirSync(out).filter((f) => f.endsWith('.png') && fs.statSync(path.join(out, f)).mtime.getTime() !== old.getTime());
    expect(rewritten.sort()).toEqual(['000002.png', '000005.png']);
    expect(fs.readFileSync(`${out}.npz`).equals(singleNpz)).toBe(true);
  }, 60_000);

  it('--merge refuses a missing and an extra index, naming them, in one line with exit 1, and writes no .npz', async () => {
    const out = path.join(root, 'broken');
    fs.cpSync(single, out, { recursive: true });
    fs.rmSync(path.join(out, '000003.png'));
    fs.copyFileSync(path.join(out, '000001.png'), path.join(out, '000009.png'));
    const r = await runCli(['generate', '--merge', out, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      `dit: cannot merge ${out}: 1 of 7 images missing (indexes 3) and 1 extra (000009.png: not indexes of a 7-image run); run dit generate again with the same flags to write the missing ones`,
    ]);
    expect(fs.existsSync(`${out}.npz`)).toBe(false);
  });

  it('refuses another configuration in the folder in one line, exit 2, touching nothing', async () => {
    const out = path.join(root, 'other');
    fs.cpSync(single, out, { recursive: true });
    const before = fs.readdirSync(out).map((f) => [f, fs.statSync(path.join(out, f)).mtimeMs]);
    const r = await generate(out, ['--cfg-scale', '2']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([`dit: ${out} holds a run with another configuration (sampling.cfgScale: 4 there, 2 now); run with the same flags, or choose another --out folder`]);
    expect(fs.readdirSync(out).map((f) => [f, fs.statSync(path.join(out, f)).mtimeMs])).toEqual(before);
  }, 60_000);

  it('identifies the weights by content: the embedded file\'s sha256 is in generate.json, and other weights of the same shapes and size are refused', async () => {
    const shipped = path.join(EMBEDDED_MODEL_DIR, 'model.safetensors');
    const bytes = fs.readFileSync(shipped);
    const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
    expect(readBulkConfig(single).model.weights).toBe(`embedded model.safetensors (${bytes.length} bytes, sha256 ${sha(bytes)})`);
    // Two copies of the embedded model, one byte apart (a retrained model of the same shapes has the same size).
    const [a, b] = ['a', 'b'].map((name) => {
      const dir = path.join(root, `weights-${name}`);
      fs.mkdirSync(dir);
      fs.copyFileSync(path.join(EMBEDDED_MODEL_DIR, 'config.json'), path.join(dir, 'config.json'));
      fs.writeFileSync(path.join(dir, 'model.safetensors'), bytes);
      return dir;
    });
    const other = Buffer.from(bytes);
    other[other.length - 2]! ^= 1;
    fs.writeFileSync(path.join(b!, 'model.safetensors'), other);
    const out = path.join(root, 'retrained');
    const first = await runCli(['generate', ...RUN, '--num-samples', '1', '--ckpt', a!, '--out', out]);
    expect(first.code, first.stderr).toBe(0);
    const before = fs.readdirSync(out).map((f) => [f, fs.statSync(path.join(out, f)).mtimeMs]);
    const r = await runCli(['generate', ...RUN, '--num-samples', '1', '--ckpt', b!, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      `dit: ${out} holds a run with another configuration (model.weights: "model.safetensors (${bytes.length} bytes, sha256 ${sha(bytes)})" there, "model.safetensors (${bytes.length} bytes, sha256 ${sha(other)})" now); run with the same flags, or choose another --out folder`,
    ]);
    expect(fs.readdirSync(out).map((f) => [f, fs.statSync(path.join(out, f)).mtimeMs])).toEqual(before);
  }, 60_000);

  it("records --attention in the configuration only when it is not the device's default: older folders stay the same run", async () => {
    const out = path.join(root, 'attention');
    fs.cpSync(single, out, { recursive: true });
    expect(readBulkConfig(out).model).not.toHaveProperty('attention');
    // fused is the CPU's default: the folder's run, complete, so nothing is written again.
    const same = await generate(out, ['--attention', 'fused']);
    expect(same.code, same.stderr).toBe(0);
    const before = fs.readdirSync(out).map((f) => [f, fs.statSync(path.join(out, f)).mtimeMs]);
    const plain = await generate(out, ['--attention', 'plain']);
    expect(plain.code).toBe(2);
    expect(plain.stderr.trim().split('\n')).toEqual([`dit: ${out} holds a run with another configuration (model.attention: undefined there, "plain" now); run with the same flags, or choose another --out folder`]);
    expect(fs.readdirSync(out).map((f) => [f, fs.statSync(path.join(out, f)).mtimeMs])).toEqual(before);
  }, 60_000);

  it.each([
    [['--shard', '3/2'], {}, '--shard 3/2 is not a valid shard: shard K of M needs whole numbers 0 ≤ K < M'],
    [['--shard', '2/2'], {}, '--shard 2/2 is not a valid shard'],
    [['--shard', 'x'], {}, '--shard "x" is not K/M'],
    [[], { JOB_COMPLETION_INDEX: '1' }, 'JOB_COMPLETION_INDEX=1 is set (a Kubernetes Indexed Job) but not the shard count: pass --num-shards M'],
    [['--num-shards', '2'], { JOB_COMPLETION_INDEX: '2' }, 'JOB_COMPLETION_INDEX=2 of --num-shards 2 is not a valid shard'],
    [[], { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_COUNT: '4' }, 'SLURM_ARRAY_TASK_ID=4 (SLURM_ARRAY_TASK_MIN=unset, SLURM_ARRAY_TASK_COUNT=4; the array must be consecutive, e.g. --array=0-3) is not a valid shard'],
    [['--labels', 'random', '--class-labels', '1,2'], {}, '--labels random draws from every class'],
    [['--batch-size', '0'], {}, '--batch-size "0" is out of range'],
  ])('%j %j: one line, exit 2, no folder', async (flags, env, message) => {
    const out = path.join(root, `bad-${Math.random().toString(36).slice(2)}`);
    const r = await generate(out, flags as string[], env as Record<string, string>);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(message)]);
    expect(fs.existsSync(out)).toBe(false);
  }, 30_000);
});
