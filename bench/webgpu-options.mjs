/**
 * Which WebGPU execution-provider options (and which attention form) make the DiT forward faster:
 * DiT graphs with random weights of the real shapes, one per (dtype, attention), each timed under
 * every option variant, for the project to choose its WebGPU defaults from measurement (issue 13:
 * on the H200, ~20 ms of every forward was fixed cost, most of it CPU time in the node process).
 *
 *   node bench/webgpu-options.mjs [--model DiT-XL/2] [--image-size 256] [--batches 2,8]
 *     [--dtypes fp32,fp16] [--attention plain,fused] [--variants NAME,...] [--fused-variants NAME,...]
 *     [--repeats 5] [--out FILE]
 *
 * --variants are run on the plain attention graphs, --fused-variants on the fused ones (VARIANTS
 * names; 'baseline' is always run, first). The defaults are 14 workers over 4 DiT-XL/2 graphs:
 * about 90 s on an H200, estimated (not yet measured) from the 2026-11-27 run's build (~5-6 s),
 * session (~1.5 s) and forward (61-315 ms) times. On lavapipe, DiT-S/8 at 64 px takes ~3 s a
 * worker once Mesa's shader cache holds its shaders (15-20 s for a graph's first worker when cold).
 *
 * Every variant runs in a process of its own (this script again, with --worker): ONNX Runtime keeps
 * one WebGPU context per process while a session holds it, and some options (enableRobustness) are
 * first-device-wins, so a variant in a shared process could silently run with another's settings;
 * validationMode 'disabled' may also end the process on a WebGPU error, and that then costs only
 * its own row. A variant's session gets the library's session options (runtime/session.ts
 * ortOptions) with [{ name: 'webgpu', ...options }, 'cpu'] as providers. Each worker times
 * `--repeats` forwards per batch after one warm-up (median wall time, and the median of the
 * process's CPU time per forward: user + system of all its threads, Dawn's included) on the same
 * inputs as `dit bench`, and hands back its last output. Outputs are checked: finite, and within
 * TOLERANCE (relative) of the baseline variant's output for the same graph and batch (options
 * change no arithmetic, so anything above rounding is a bug); the fused attention's baseline is
 * also compared with the plain one's (ATTENTION_TOLERANCE).
 *
 * onnxruntime-node 1.30 takes these WebGPU options only: preferredLayout, validationMode, the four
 * buffer cache modes, enableRobustness and forceCpuNodeNames. Others of the provider's settings
 * (maxNumPendingDispatches, enableGraphCapture) cannot be reached from Node: the binding refuses
 * them by name, and session config entries ("extra") are added after the provider has read its
 * options, so they are ignored.
 *
 * Prints a markdown table and one JSON line (--out FILE writes the JSON too); exits 1 when a worker
 * failed or an output was off (after reporting everything), 2 on a usage error. Plain JavaScript over
 * dist/ (npm run build) so that it runs with the GPU kit's node alone.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import * as ort from 'onnxruntime-node';
import { writeFileAtomic } from '../dist/atomic-write.js';
import { UsageError } from '../dist/errors.js';
import { saveModel } from '../dist/graph/index.js';
import { buildDiTGraph } from '../dist/models/dit.js';
import { resolveBenchOptions } from '../dist/options.js';
import { benchFeeds, randomDiTWeights } from '../dist/runtime/bench.js';
import { ortOptions } from '../dist/runtime/session.js';
import { relativeError } from './relative-error.mjs';

/** The option sets to compare; 'baseline' (no options: ONNX Runtime's defaults) is always run first. */
const VARIANTS = Object.freeze({
  baseline: {},
  // Default 'basic': ORT's own checks of every program's inputs, outputs and uniforms per dispatch.
  'validation-wgpuonly': { validationMode: 'wgpuOnly' },
  // Also Dawn's validation off; ORT's documentation: for benchmarking, may crash on a WebGPU error.
  'validation-disabled': { validationMode: 'disabled' },
  // Storage buffers (default 'bucket') reused at their exact size: a static-shape graph asks for
  // the same sizes every forward.
  'storage-simple': { storageBufferCacheMode: 'simple' },
  // Buffers of no other class (default 'disabled': created and destroyed each run): the staging
  // buffers that carry inputs up and the output back, every forward.
  'default-bucket': { defaultBufferCacheMode: 'bucket' },
  // Not in the default set:
  'uniform-bucket': { uniformBufferCacheMode: 'bucket' },
  // enableRobustness defaults to false in release builds (as npm's): 'robustness-off' should equal the baseline.
  'robustness-on': { enableRobustness: true },
  'robustness-off': { enableRobustness: false },
  nhwc: { preferredLayout: 'NHWC' },
  combined: { validationMode: 'disabled', storageBufferCacheMode: 'simple', defaultBufferCacheMode: 'bucket' },
});
/** All of them on the plain attention (WebGPU's default form); the fused form (fewer dispatches) gets fewer, to keep a device run near 90 s. */
const DEFAULT_VARIANTS = Object.freeze({
  plain: ['baseline', 'validation-wgpuonly', 'validation-disabled', 'storage-simple', 'default-bucket'],
  fused: ['baseline', 'validation-disabled'],
});
/** A variant's output against the baseline's, same graph and batch: rounding only. */
const TOLERANCE = Object.freeze({ fp32: 1e-5, fp16: 1e-3 });
/** The fused attention's output against the plain one's, same dtype and batch. */
const ATTENTION_TOLERANCE = Object.freeze({ fp32: 1e-4, fp16: 1e-2 });

const script = fileURLToPath(import.meta.url);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** `dit bench`'s inputs (runtime/bench.ts benchFeeds): the same x, t and y for every variant. */
function inputs(config, batch) {
  return Object.fromEntries(Object.entries(benchFeeds(config, batch)).map(([name, f]) => [name, new ort.Tensor(f.type, f.data, f.dims)]));
}

/** The worker: one session with one variant's options, every batch timed; writes DIR/result.json and DIR/b<batch>.f32. */
async function worker(jobFile) {
  const job = JSON.parse(readFileSync(jobFile, 'utf8'));
  const base = ortOptions('webgpu', {});
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(job.modelPath, { ...base, executionProviders: [{ name: 'webgpu', ...job.options }, 'cpu'] });
  const result = { session_s: (performance.now() - t0) / 1000, batches: [] };
  try {
    for (const batch of job.batches) {
      const feeds = inputs(job.config, batch);
      let out = (await session.run(feeds)).out; // warm-up: pipelines are compiled here
      const wall = [];
      const cpu = [];
      for (let i = 0; i < job.repeats; i++) {
        const c0 = process.cpuUsage();
        const w0 = performance.now();
        out = (await session.run(feeds)).out;
        wall.push((performance.now() - w0) / 1000);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1e6);
      }
      writeFileSync(path.join(job.dir, `b${batch}.f32`), new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength));
      result.batches.push({ batch, seconds_all: wall, cpu_seconds_all: cpu, dims: out.dims });
    }
  } finally {
    await session.release();
  }
  writeFileSync(path.join(job.dir, 'result.json'), JSON.stringify(result));
}

const rms = (a) => Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length);
const list = (s) => s.split(',').map((v) => v.trim()).filter(Boolean);

function usage(message) {
  process.stderr.write(`bench/webgpu-options.mjs: ${message}\n`);
  process.exit(2);
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'DiT-XL/2' },
      'image-size': { type: 'string', default: '256' },
      batches: { type: 'string', default: '2,8' },
      dtypes: { type: 'string', default: 'fp32,fp16' },
      attention: { type: 'string', default: 'plain,fused' },
      variants: { type: 'string', default: DEFAULT_VARIANTS.plain.join(',') },
      'fused-variants': { type: 'string', default: DEFAULT_VARIANTS.fused.join(',') },
      repeats: { type: 'string', default: '5' },
      'worker-timeout': { type: 'string', default: '240' },
      out: { type: 'string' },
      worker: { type: 'string' },
    },
  });
  if (values.worker) return worker(values.worker);

  const variantsFor = {};
  for (const [attention, flag] of [['plain', 'variants'], ['fused', 'fused-variants']]) {
    variantsFor[attention] = ['baseline', ...new Set(list(values[flag]).filter((v) => v !== 'baseline'))];
    for (const v of variantsFor[attention]) if (!Object.hasOwn(VARIANTS, v)) usage(`--${flag}: unknown variant "${v}"; use some of: ${Object.keys(VARIANTS).join(', ')}`);
  }
  const dtypes = list(values.dtypes);
  // Plain first: the fused graph's output is checked against the plain one's.
  const attentions = [...new Set(list(values.attention))].sort((a, b) => (a === 'plain' ? -1 : b === 'plain' ? 1 : 0));
  const batches = list(values.batches);
  for (const d of dtypes) if (!Object.hasOwn(TOLERANCE, d)) usage(`--dtypes: "${d}" is not one of ${Object.keys(TOLERANCE).join(', ')}`);
  if (!dtypes.length || !attentions.length || !batches.length) usage('--dtypes, --attention and --batches each need at least one value');
  // The library's resolver checks model, image size, dtype, attention, batch and repeats, with its messages.
  let first;
  const batchNumbers = [];
  for (const dtype of dtypes) {
    for (const attention of attentions) {
      for (const batch of batches) {
        const o = resolveBenchOptions({ model: values.model, imageSize: values['image-size'], device: 'webgpu', dtype, attention, batch, repeats: values.repeats });
        first ??= o;
        if (!batchNumbers.includes(o.batch)) batchNumbers.push(o.batch);
      }
    }
  }
  const config = first.config;
  const repeats = first.repeats;
  const workerTimeout = Number(values['worker-timeout']);
  if (!(workerTimeout > 0)) usage(`--worker-timeout ${values['worker-timeout']}: must be a positive number of seconds`);

  const started = performance.now();
  const work = mkdtempSync(path.join(tmpdir(), 'dit-webgpu-options-'));
  const rows = [];
  const builds = [];
  const attentionChecks = [];
  const failures = [];
  /** Baseline output and time of the plain graph, per dtype and batch, for the fused one's check. */
  const plainBaselines = new Map();
  try {
    for (const dtype of dtypes) {
      for (const attention of attentions) {
        const dir = path.join(work, `${dtype}-${attention}`);
        const b0 = performance.now();
        const graph = buildDiTGraph(config, randomDiTWeights(config, 0), { attention, dtype });
        const saved = await saveModel(graph, path.join(work, `${dtype}-${attention}.onnx`));
        builds.push({ dtype, attention, build_s: (performance.now() - b0) / 1000, weights_mb: saved.weightBytes / 2 ** 20 });
        const baseline = new Map();
        for (const variant of variantsFor[attention]) {
          const jobDir = path.join(dir, variant);
          mkdirSync(jobDir, { recursive: true });
          const job = { modelPath: saved.modelPath, options: VARIANTS[variant], batches: batchNumbers, repeats, config, dir: jobDir };
          const jobFile = path.join(jobDir, 'job.json');
          writeFileSync(jobFile, JSON.stringify(job));
          const w0 = performance.now();
          let result;
          let error;
          try {
            await promisify(execFile)(process.execPath, [script, '--worker', jobFile], { timeout: workerTimeout * 1000, maxBuffer: 16 << 20 });
            result = JSON.parse(readFileSync(path.join(jobDir, 'result.json'), 'utf8'));
          } catch (err) {
            const tail = `${err.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ');
            error = `${err.killed ? `killed after ${workerTimeout} s` : `exit ${err.code ?? err.signal}`}: ${tail || err.message}`;
          }
          const process_s = (performance.now() - w0) / 1000;
          if (!result) {
            failures.push({ dtype, attention, variant, options: VARIANTS[variant], error, process_s });
            continue;
          }
          for (const b of result.batches) {
            const raw = readFileSync(path.join(jobDir, `b${b.batch}.f32`));
            const out = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
            const secs = median(b.seconds_all);
            const row = {
              dtype,
              attention,
              batch: b.batch,
              variant,
              options: VARIANTS[variant],
              seconds_per_forward: secs,
              seconds_all: b.seconds_all,
              cpu_seconds_per_forward: median(b.cpu_seconds_all),
              speedup: null,
              output_rms: rms(out),
              finite: out.every(Number.isFinite),
              relative_error: null,
              tolerance: TOLERANCE[dtype],
              ok: false,
              session_s: result.session_s,
              process_s,
            };
            const ref = baseline.get(b.batch);
            if (variant === 'baseline') {
              baseline.set(b.batch, { out, secs });
              row.speedup = 1;
              row.ok = row.finite && row.output_rms > 0;
            } else if (ref) {
              row.speedup = ref.secs / secs;
              row.relative_error = relativeError(out, ref.out);
              row.ok = row.finite && row.relative_error <= TOLERANCE[dtype];
            }
            rows.push(row);
          }
        }
        for (const [batch, ref] of baseline) {
          if (attention === 'plain') plainBaselines.set(`${dtype}/${batch}`, ref);
          const plain = plainBaselines.get(`${dtype}/${batch}`);
          if (attention !== 'plain' && plain) {
            const e = relativeError(ref.out, plain.out);
            const tolerance = ATTENTION_TOLERANCE[dtype];
            attentionChecks.push({ dtype, batch, attention, speedup_to_plain: plain.secs / ref.secs, relative_error_to_plain: e, tolerance, ok: Number.isFinite(e) && e <= tolerance });
          }
        }
        rmSync(saved.modelPath, { force: true });
        rmSync(`${saved.modelPath}.data`, { force: true });
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }

  const report = {
    bench: 'webgpu-options',
    model: first.model,
    image_size: Number(values['image-size']),
    tokens: (config.input_size / config.patch_size) ** 2,
    batches: batchNumbers,
    dtypes,
    attention: attentions,
    repeats,
    warmup: 1,
    variants: Object.fromEntries([...new Set(attentions.flatMap((a) => variantsFor[a]))].map((v) => [v, VARIANTS[v]])),
    variants_per_attention: Object.fromEntries(attentions.map((a) => [a, variantsFor[a]])),
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common,
    node: process.version,
    builds,
    rows,
    attention_checks: attentionChecks,
    failures,
    wall_s: (performance.now() - started) / 1000,
  };

  const ms = (s) => `${(s * 1000).toFixed(1)} ms`;
  const lines = [
    `### WebGPU provider options, ${report.model} at ${report.image_size}px (${report.tokens} tokens), ${repeats} forwards after 1 warm-up, ONNX Runtime ${report.onnxruntime}`,
    '',
    '| dtype | attention | batch | variant | forward (median) | speedup | CPU / forward | rel. err. to baseline | ok |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    // Grouped for reading: the variants of one graph and batch together.
    ...[...rows].sort((a, b) => dtypes.indexOf(a.dtype) - dtypes.indexOf(b.dtype) || a.batch - b.batch || attentions.indexOf(a.attention) - attentions.indexOf(b.attention)).map(
      (r) =>
        `| ${r.dtype} | ${r.attention} | ${r.batch} | ${r.variant} | ${ms(r.seconds_per_forward)} | ${r.speedup === null ? '–' : `${r.speedup.toFixed(2)}×`} | ${ms(r.cpu_seconds_per_forward)} | ${r.relative_error === null ? '–' : r.relative_error.toExponential(1)} | ${r.ok ? 'yes' : '**no**'} |`,
    ),
    ...attentionChecks.map(
      (c) =>
        `\n${c.dtype} batch ${c.batch}: ${c.attention} attention against plain (baselines): ${c.speedup_to_plain.toFixed(2)}× the speed, rel. err. ${c.relative_error_to_plain.toExponential(1)} (tolerance ${c.tolerance}) ${c.ok ? 'ok' : '**too far**'}`,
    ),
    ...failures.map((f) => `\n**failed**: ${f.dtype} ${f.attention} ${f.variant} ${JSON.stringify(f.options)}: ${f.error}`),
    '',
    `${builds.length} graphs built in ${builds.reduce((s, b) => s + b.build_s, 0).toFixed(1)} s; ${report.wall_s.toFixed(1)} s in all.`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const json = JSON.stringify(report);
  process.stdout.write(`${json}\n`);
  if (values.out) writeFileAtomic(values.out, new TextEncoder().encode(`${json}\n`));
  // Everything is reported first; then a failed worker or a wrong output makes the exit status 1.
  if (failures.length || rows.some((r) => !r.ok) || attentionChecks.some((c) => !c.ok)) process.exitCode = 1;
}

try {
  await main();
} catch (err) {
  if (err instanceof UsageError) usage(err.message);
  throw err;
}
