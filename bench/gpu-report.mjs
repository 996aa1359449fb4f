/**
 * Gathers what bench/gpu.sh's steps left in its work folder into OUT/gpu-bench.json and a
 * Markdown table (OUT/gpu-bench.md, also printed). Exits 1 when a step failed (skipped steps
 * are not failures: each says why it was skipped).
 *
 *   node bench/gpu-report.mjs --work DIR --mode full --model DiT-XL/2 --image-size 256 --out OUT
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ditConfigFor, ditForwardOps } from '../dist/models/dit.js';
import { DEFAULT_ATTENTION } from '../dist/runtime/devices.js';

const { values } = parseArgs({
  options: {
    work: { type: 'string' },
    mode: { type: 'string' },
    model: { type: 'string' },
    'sample-model': { type: 'string' },
    'image-size': { type: 'string' },
    out: { type: 'string' },
  },
});
if (!values.work || !values.out || !values.model) throw new Error('usage: node bench/gpu-report.mjs --work DIR --mode M --model NAME --image-size PX --out DIR');
const stepsDir = path.join(values.work, 'steps');
const size = Number(values['image-size']);
const config = ditConfigFor(values.model, { input_size: size / 8 });
/** G op per forward (multiply-add = 2), the count dit bench reports: one source for both sides. */
const gops = (batch) => ditForwardOps(config, batch) / 1e9;

const read = (file) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined);
/** The last n lines of stderr, without Dawn's start-up warnings about reduced limits. */
const tail = (text, n) =>
  (text ?? '')
    .trim()
    .split('\n')
    .filter((l) => !/^Warning: .* artificially reduced/.test(l))
    .slice(-n)
    .join('\n');
/** The last line of a step's stdout that parses as a JSON object. */
function lastJson(text) {
  for (const line of (text ?? '').trim().split('\n').reverse()) {
    try {
      const v = JSON.parse(line);
      if (v && typeof v === 'object') return v;
    } catch {
      // not JSON: progress or a table row
    }
  }
  return undefined;
}

const order = (read(path.join(stepsDir, 'order')) ?? '').split('\n').filter(Boolean);
const steps = order.map((name) => {
  const f = (ext) => read(path.join(stepsDir, `${name}.${ext}`));
  const skipped = f('skipped');
  if (skipped !== undefined) return { name, command: f('cmd')?.trim(), skipped: skipped.trim() };
  const rc = Number(f('rc'));
  return {
    name,
    command: f('cmd')?.trim(),
    exit_code: rc,
    timed_out: rc === 124 || rc === 137,
    wall_s: Number(f('wall')),
    stdout: f('out') ?? '',
    stderr_tail: (rc === 124 || rc === 137 ? `timed out after ${f('wall')?.trim()} s\n` : '') + tail(f('err'), rc === 0 ? 3 : 20),
  };
});
const step = (name) => steps.find((s) => s.name === name);
const ok = (s) => s !== undefined && s.exit_code === 0;

const report = {
  date: new Date().toISOString(),
  mode: values.mode,
  model: values.model,
  sample_model: values['sample-model'],
  image_size: size,
  gpu: ok(step('nvidia-smi')) ? step('nvidia-smi').stdout.trim() : null,
  node: ok(step('node')) ? lastJson(step('node').stdout) : null,
  correctness: null,
  webgpu_bench: [],
  webgpu_options: null,
  torch: null,
  samples: [],
  goals: {},
  steps: steps.map(({ stdout, ...s }) => s),
};

const check = step('check-webgpu');
if (ok(check)) report.correctness = lastJson(check.stdout) ?? null;

// bench-webgpu-DTYPE[-ATTENTION]-bB; without ATTENTION, dit bench's default form for webgpu.
for (const s of steps.filter((x) => x.name.startsWith('bench-webgpu-'))) {
  const [, dtype, attention, b] = /^bench-webgpu-(\w+?)(?:-(fused|plain))?-b(\d+)$/.exec(s.name);
  const entry = { step: s.name, dtype, attention: attention ?? DEFAULT_ATTENTION.webgpu, batch: Number(b) };
  if (s.skipped) report.webgpu_bench.push({ ...entry, skipped: s.skipped });
  else if (!ok(s)) report.webgpu_bench.push({ ...entry, error: s.stderr_tail });
  else {
    const r = lastJson(s.stdout) ?? {};
    report.webgpu_bench.push({ ...entry, ...r, attention: r.graph?.attention ?? entry.attention });
  }
}

// bench/webgpu-options.mjs: its JSON line, and its own table for gpu-bench.md.
const options = step('webgpu-options');
if (options?.skipped) report.webgpu_options = { skipped: options.skipped };
else if (options) report.webgpu_options = { ...(lastJson(options.stdout) ?? {}), ...(ok(options) ? {} : { error: options.stderr_tail }) };
const optionsTable = options?.stdout ? options.stdout.split('\n').filter((l) => !l.startsWith('{')).join('\n').trim() : '';

const torchStep = step('torch');
if (torchStep?.skipped) report.torch = { skipped: torchStep.skipped };
else if (torchStep && !ok(torchStep)) report.torch = { error: torchStep.stderr_tail };
else if (torchStep) {
  report.torch = lastJson(torchStep.stdout) ?? { error: 'no JSON line' };
  for (const r of report.torch.results ?? []) if (r.seconds_per_forward) r.gflops_per_s = gops(r.batch) / r.seconds_per_forward;
}

// sample-SAMPLER[-DTYPE]: bench/gpu.sh names fp32 runs without a suffix.
for (const s of steps.filter((x) => x.name.startsWith('sample-'))) {
  const dtype = /^sample-(?:dpm-solver|ddpm)(?:-(\w+))?$/.exec(s.name)?.[1] ?? 'fp32';
  const arg = (flag) => new RegExp(`--${flag} (\\S+)`).exec(s.command ?? '')?.[1];
  const entry = { step: s.name, sampler: arg('sampler'), dtype, steps: Number(arg('num-sampling-steps')), images: 1, batch: 2 };
  if (s.skipped) report.samples.push({ ...entry, skipped: s.skipped });
  else if (!ok(s)) report.samples.push({ ...entry, error: s.stderr_tail });
  else {
    // dit sample's last stderr line: "load 7.8 s · sample 1.2 s (3 steps, 0.4 s/step) · decode 1.6 s"
    const line = s.stderr_tail.split('\n').find((l) => l.startsWith('load ')) ?? '';
    const secs = (what) => {
      // formatSeconds: "1 min 8 s", "7.0 s", or "31 ms" below 0.1 s
      const m = new RegExp(`${what} (?:(\\d+) min )?([\\d.]+) (ms|s)\\b`).exec(line);
      return m ? 60 * Number(m[1] ?? 0) + Number(m[2]) / (m[3] === 'ms' ? 1000 : 1) : null;
    };
    report.samples.push({ ...entry, wall_s: s.wall_s, load_s: secs('load'), sample_s: secs('sample'), decode_s: secs('decode'), timing_line: line });
  }
}

// The issue's goals, read off the best row of this run (null where a side is missing): the fastest
// WebGPU forward at batch 8 of any precision and attention form, and the fastest 250-step DDPM
// image. A fused row counts only if this run's check did not find the fused form wrong (lavapipe).
const failure = (e) => `failed: ${e.startsWith('timed out') ? e.split('\n')[0] : e.split('\n').pop()}`;
const fastest = (rows, key) => rows.reduce((best, r) => (best === undefined || r[key] < best[key] ? r : best), undefined);
const fusedCheck = report.correctness?.embedded?.find((f) => f.attention === 'fused');
// The embedded model's fused forward against the CPU: 8e-7 on an H200, 1.5e-2 on lavapipe.
const FUSED_TOLERANCE = 1e-3;
const fusedWrong = fusedCheck !== undefined && !(fusedCheck.finite && fusedCheck.relative_error_vs_cpu <= FUSED_TOLERANCE);
const fusedLeftOut = fusedWrong && report.webgpu_bench.some((r) => r.attention === 'fused' && r.batch === 8 && r.seconds_per_forward);
const web8 = fastest(report.webgpu_bench.filter((r) => r.batch === 8 && r.seconds_per_forward && !(fusedWrong && r.attention === 'fused')), 'seconds_per_forward');
const torch8 = (mode) => report.torch?.results?.find((r) => r.mode === mode && r.batch === 8 && r.seconds_per_forward);
const ddpm = fastest(report.samples.filter((r) => r.sampler === 'ddpm' && r.steps === 250 && r.wall_s), 'wall_s');
report.goals = {
  webgpu_b8_over_torch_bf16_b8: web8 && torch8('bf16') ? web8.seconds_per_forward / torch8('bf16').seconds_per_forward : null,
  within_2x_of_torch_bf16: web8 && torch8('bf16') ? web8.seconds_per_forward <= 2 * torch8('bf16').seconds_per_forward : null,
  ahead_of_torch_fp32: web8 && torch8('fp32') ? web8.seconds_per_forward < torch8('fp32').seconds_per_forward : null,
  ddpm_250_wall_s: ddpm ? ddpm.wall_s : null,
  ddpm_250_within_15_s: ddpm ? ddpm.wall_s <= 15 : null,
  webgpu_b8_step: web8?.step ?? null,
  ddpm_250_step: ddpm?.step ?? null,
  fused_attention_wrong: fusedWrong,
};

// The table: one row per measurement, the same columns for dit-ts and PyTorch.
const ms = (s) => (s == null ? '–' : `${(1000 * s).toFixed(1)} ms`);
const rate = (g) => (g == null ? '–' : g >= 1000 ? `${(g / 1000).toFixed(1)} T op/s` : `${g.toFixed(2)} G op/s`);
const rows = [];
for (const r of report.webgpu_bench) {
  const what = `dit-ts WebGPU ${r.dtype} ${r.attention}`;
  if (r.skipped || r.error) rows.push([what, r.batch, r.skipped ? `skipped: ${r.skipped}` : failure(r.error), '', '']);
  else rows.push([what, r.batch, ms(r.seconds_per_forward), rate(r.gflops_per_s), `session ${r.session_s.toFixed(1)} s`]);
}
if (report.torch?.results) {
  for (const r of report.torch.results) {
    const what = `PyTorch ${report.torch.device} ${r.mode}`;
    if (r.skipped) rows.push([what, r.batch, `skipped: ${r.skipped}`, '', '']);
    else rows.push([what, r.batch, ms(r.seconds_per_forward), rate(r.gflops_per_s), r.relative_error_to_fp32 == null ? '' : `rel. err. to fp32 ${r.relative_error_to_fp32.toExponential(1)}`]);
  }
} else if (report.torch) rows.push(['PyTorch', '', report.torch.skipped ? `skipped: ${report.torch.skipped}` : failure(report.torch.error), '', '']);
for (const r of report.samples) {
  const what = `dit sample WebGPU ${values['sample-model']} ${r.dtype}, ${r.steps} ${r.sampler} steps, 1 image + CFG`;
  if (r.skipped || r.error) rows.push([what, r.batch, r.skipped ? `skipped: ${r.skipped}` : failure(r.error), '', '']);
  else rows.push([what, r.batch, `${r.wall_s.toFixed(1)} s end to end`, '', r.timing_line]);
}
const c = report.correctness;
if (c) {
  for (const f of c.forward) rows.push([`fixture forward WebGPU (${f.attention}) vs official`, 3, `rel. err. ${f.relative_error.toExponential(1)}`, '', f.finite ? '' : 'NOT FINITE']);
  for (const f of c.embedded ?? []) rows.push([`embedded model forward WebGPU (${f.attention}) vs CPU`, 2, `rel. err. ${f.relative_error_vs_cpu.toExponential(1)}`, '', f.finite ? '' : 'NOT FINITE']);
  if (c.sample) rows.push([`fixture DDPM ${c.sample.case.steps} steps WebGPU vs official`, c.sample.shape[0] * 2, `rel. err. ${c.sample.relative_error.toExponential(1)}`, '', '']);
} else rows.push(['fixture check', '', check?.skipped ? `skipped: ${check.skipped}` : check ? failure(check.stderr_tail) : 'not run', '', '']);

const title = `${values.model} at ${size}px (samples: ${values['sample-model']}) on ${report.gpu ?? 'no NVIDIA GPU'} (${report.date.slice(0, 10)}, mode ${values.mode})`;
const table = [
  `### ${title}`,
  '',
  '| what | batch | time (median) | rate | note |',
  '| --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.map((x) => String(x).replaceAll('|', '\\|')).join(' | ')} |`),
  '',
  ...(optionsTable ? [optionsTable, ''] : []),
  `Goals: best WebGPU b8 (${web8 ? `${web8.dtype} ${web8.attention}` : '–'}) / PyTorch bf16 b8 = ${report.goals.webgpu_b8_over_torch_bf16_b8?.toFixed(2) ?? '–'} (goal ≤ 2); ahead of PyTorch fp32: ${report.goals.ahead_of_torch_fp32 ?? '–'}; best 250-step DDPM image (${ddpm?.dtype ?? '–'}) ${report.goals.ddpm_250_wall_s?.toFixed(1) ?? '–'} s (goal ≤ 15).${fusedLeftOut ? ' Fused-attention rows left out of the goals: this run\'s check found the fused form wrong.' : ''}`,
  '',
].join('\n');

writeFileSync(path.join(values.out, 'gpu-bench.json'), `${JSON.stringify(report, null, 1)}\n`);
writeFileSync(path.join(values.out, 'gpu-bench.md'), table);
process.stdout.write(table);
const failed = steps.filter((s) => s.exit_code !== undefined && s.exit_code !== 0).map((s) => s.name);
if (failed.length > 0) {
  process.stdout.write(`failed steps: ${failed.join(', ')} (their stderr is in gpu-bench.json)\n`);
  process.exitCode = 1;
}
