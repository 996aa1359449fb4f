/**
 * bench/gpu-report.mjs on the step outputs of a full-mode run (DiT-XL/2, batch 8, PyTorch on
 * CUDA, 250 DDPM steps), written by hand: lavapipe never produces these, and a slip here would
 * otherwise first show on the GPU machine. Runs the script over dist/ (built by `npm test`).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ditConfigFor, ditForwardOps } from '../../src/models/dit.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'dit-gpu-report-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface StepFiles {
  out?: string;
  err?: string;
  rc?: number;
  wall?: number;
  cmd?: string;
  skipped?: string;
}

function writeWork(steps: Record<string, StepFiles>): string {
  const work = mkdtempSync(path.join(tmp, 'work-'));
  const dir = path.join(work, 'steps');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'order'), `${Object.keys(steps).join('\n')}\n`);
  for (const [name, s] of Object.entries(steps)) {
    writeFileSync(path.join(dir, `${name}.cmd`), s.cmd ?? name);
    if (s.skipped !== undefined) {
      writeFileSync(path.join(dir, `${name}.skipped`), `${s.skipped}\n`);
      continue;
    }
    writeFileSync(path.join(dir, `${name}.out`), s.out ?? '');
    writeFileSync(path.join(dir, `${name}.err`), s.err ?? '');
    writeFileSync(path.join(dir, `${name}.rc`), `${s.rc ?? 0}\n`);
    writeFileSync(path.join(dir, `${name}.wall`), `${s.wall ?? 1}\n`);
  }
  return work;
}

function report(work: string): Promise<{ code: number; stdout: string; json: Record<string, any>; table: string }> {
  const out = mkdtempSync(path.join(tmp, 'out-'));
  const args = ['bench/gpu-report.mjs', '--work', work, '--mode', 'full', '--model', 'DiT-XL/2', '--sample-model', 'DiT-XL/2', '--image-size', '256', '--out', out];
  return new Promise((resolve) => {
    execFile('node', args, { cwd: root }, (err, stdout) => {
      resolve({
        code: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
        stdout,
        json: JSON.parse(readFileSync(path.join(out, 'gpu-bench.json'), 'utf8')),
        table: readFileSync(path.join(out, 'gpu-bench.md'), 'utf8'),
      });
    });
  });
}

const XL = ditConfigFor('DiT-XL/2', { input_size: 32 });
const gops = (batch: number) => ditForwardOps(XL, batch) / 1e9;
const bench = (batch: number, seconds: number) =>
  `${JSON.stringify({ model: 'DiT-XL/2', image_size: 256, batch, device: 'webgpu', seconds_per_forward: seconds, gops_per_forward: gops(batch), gflops_per_s: gops(batch) / seconds, session_s: 4.2 })}\n`;
const torchResult = (mode: string, batch: number, seconds: number) => ({ mode, batch, seconds_per_forward: seconds, relative_error_to_fp32: mode === 'fp32' ? null : 1e-3 });
const torch = {
  model: 'DiT-XL/2',
  device: 'cuda',
  results: [torchResult('fp32', 2, 0.05), torchResult('tf32', 2, 0.02), torchResult('bf16', 2, 0.012), torchResult('fp32', 8, 0.2), torchResult('tf32', 8, 0.07), torchResult('bf16', 8, 0.04)],
};
const dawn = 'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.';

describe('bench/gpu-report.mjs', () => {
  it('a full run: the goals read off batch 8 and the 250-step DDPM run, PyTorch rated with the dit-ts op count', async () => {
    const work = writeWork({
      'nvidia-smi': { out: 'NVIDIA H100 80GB HBM3, 580.159.04, 81559 MiB\n' },
      'bench-webgpu-fp32-b2': { out: bench(2, 0.03), err: dawn },
      'bench-webgpu-fp32-b8': { out: `a table row\n${bench(8, 0.075)}`, err: dawn },
      'bench-webgpu-fp16-b2': { skipped: 'dit bench does not offer --dtype fp16 yet' },
      torch: { out: `${JSON.stringify(torch)}\n` },
      'sample-ddpm': { cmd: 'dit sample --sampler ddpm --num-sampling-steps 250', wall: 12.34, err: 'sampling\nload 1 min 2 s · sample 6.5 s (250 steps, 26 ms/step) · decode 45 ms\n' },
    });
    const r = await report(work);
    expect(r.code, r.stdout).toBe(0);
    expect(r.json.gpu).toBe('NVIDIA H100 80GB HBM3, 580.159.04, 81559 MiB');
    expect(r.json.goals.webgpu_b8_over_torch_bf16_b8).toBeCloseTo(0.075 / 0.04, 12);
    expect(r.json.goals).toMatchObject({ within_2x_of_torch_bf16: true, ahead_of_torch_fp32: true, ddpm_250_wall_s: 12.34, ddpm_250_within_15_s: true });
    expect(r.json.torch.results.find((x: { mode: string; batch: number }) => x.mode === 'bf16' && x.batch === 8).gflops_per_s).toBeCloseTo(gops(8) / 0.04, 6);
    expect(r.json.samples).toEqual([
      expect.objectContaining({ sampler: 'ddpm', steps: 250, wall_s: 12.34, load_s: 62, sample_s: 6.5, decode_s: 0.045 }),
    ]);
    expect(r.json.webgpu_bench.map((b: { dtype: string; batch: number }) => `${b.dtype}-${b.batch}`)).toEqual(['fp32-2', 'fp32-8', 'fp16-2']);
    expect(r.table).toContain(`| dit-ts WebGPU fp32 | 8 | 75.0 ms | ${(gops(8) / 0.075 / 1000).toFixed(1)} T op/s | session 4.2 s |`);
    expect(r.table).toContain(`| PyTorch cuda bf16 | 8 | 40.0 ms | ${(gops(8) / 0.04 / 1000).toFixed(1)} T op/s | rel. err. to fp32 1.0e-3 |`);
    expect(r.table).toContain('| dit-ts WebGPU fp16 | 2 | skipped: dit bench does not offer --dtype fp16 yet |');
    expect(r.table).toContain('WebGPU b8 / PyTorch bf16 b8 = 1.88 (goal ≤ 2); ahead of PyTorch fp32: true; 250-step DDPM image 12.3 s (goal ≤ 15).');
  });

  it('a failed and a timed-out step: exit 1, the error line without Dawn warnings, no goal claimed', async () => {
    const work = writeWork({
      'bench-webgpu-fp32-b8': { rc: 1, err: `${dawn}\ndit: WebGPU buffer of 1.2 GiB exceeds maxBufferSize\n${dawn}` },
      'sample-ddpm': { cmd: 'dit sample --sampler ddpm --num-sampling-steps 250', rc: 124, wall: 240.01, err: 'sampling 10/250' },
      torch: { skipped: 'PyTorch sees no CUDA device' },
    });
    const r = await report(work);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('failed steps: bench-webgpu-fp32-b8, sample-ddpm');
    expect(r.table).toContain('| dit-ts WebGPU fp32 | 8 | failed: dit: WebGPU buffer of 1.2 GiB exceeds maxBufferSize |');
    expect(r.table).toContain('| 2 | failed: timed out after 240.01 s |');
    expect(r.table).toContain('| PyTorch |  | skipped: PyTorch sees no CUDA device |');
    expect(r.json.goals).toEqual({ webgpu_b8_over_torch_bf16_b8: null, within_2x_of_torch_bf16: null, ahead_of_torch_fp32: null, ddpm_250_wall_s: null, ddpm_250_within_15_s: null });
    expect(r.json.steps.find((s: { name: string }) => s.name === 'sample-ddpm')).toMatchObject({ exit_code: 124, timed_out: true, wall_s: 240.01 });
  });
});
