/**
 * bench/webgpu-options.mjs, the WebGPU provider-options benchmark for the GPU machine, in its small
 * mode on lavapipe: every variant's worker runs, its output is finite and matches the baseline's,
 * and the fused attention's output matches the plain one's. DiT-S/8 at 64 px has one token, the
 * smallest graph that still runs every layer (lavapipe compiles each new shader for 15-20 s on a
 * cold Mesa cache; at 4 tokens the fused attention's took 90 s), so the attention check sees a
 * single key: it still covers the heads' split and merge and both projections. Timings on lavapipe
 * say nothing about a GPU and are not asserted. Runs the script over dist/ (built by `npm test`).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { deviceFailure } from '../../src/runtime/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const script = path.join(root, 'bench/webgpu-options.mjs');
const webgpuProblem = await deviceFailure('webgpu');
const requireWebgpu = process.env.DIT_REQUIRE_WEBGPU === '1';
const tmp = mkdtempSync(path.join(tmpdir(), 'dit-webgpu-options-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const SMALL = ['--model', 'DiT-S/8', '--image-size', '64', '--batches', '2', '--repeats', '1', '--dtypes', 'fp32', '--attention', 'plain,fused'];

function run(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { cwd: root, timeout: 300_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

interface Row {
  dtype: string;
  attention: string;
  batch: number;
  variant: string;
  options: Record<string, unknown>;
  seconds_per_forward: number;
  seconds_all: number[];
  cpu_seconds_per_forward: number;
  speedup: number | null;
  output_rms: number;
  finite: boolean;
  relative_error: number | null;
  ok: boolean;
}

describe('bench/webgpu-options.mjs', () => {
  it('refuses an unknown variant before building anything, naming the ones it knows', async () => {
    const r = await run([...SMALL, '--variants', 'baseline,validation-off']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--variants: unknown variant "validation-off"; use some of: baseline, validation-wgpuonly, validation-disabled');
  });

  it('reports a worker that does not finish as a failure, writes the JSON anyway and exits 1', async () => {
    const out = path.join(tmp, 'timeout.json');
    const r = await run([...SMALL, '--variants', 'baseline', '--fused-variants', 'baseline', '--worker-timeout', '0.001', '--out', out]);
    expect(r.code, r.stderr).toBe(1);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.rows).toEqual([]);
    expect(report.failures.map((f: { attention: string; variant: string }) => `${f.attention}/${f.variant}`)).toEqual(['plain/baseline', 'fused/baseline']);
    for (const f of report.failures) expect(f.error).toMatch(/^killed after 0.001 s/);
  }, 60_000);

  it.runIf(webgpuProblem === undefined || requireWebgpu)(
    'times every variant on lavapipe; each output is finite and matches its baseline, and fused matches plain',
    async () => {
      if (webgpuProblem !== undefined) throw new Error(`DIT_REQUIRE_WEBGPU=1 but WebGPU is not usable here: ${webgpuProblem}`);
      const out = path.join(tmp, 'small.json');
      const r = await run([...SMALL, '--variants', 'validation-disabled', '--fused-variants', 'baseline', '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split('\n');
      const report = JSON.parse(lines.at(-1)!);
      expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(report);
      expect(report).toMatchObject({ bench: 'webgpu-options', model: 'DiT-S/8', image_size: 64, tokens: 1, batches: [2], dtypes: ['fp32'], repeats: 1, failures: [] });
      expect(report.variants).toEqual({ baseline: {}, 'validation-disabled': { validationMode: 'disabled' } });
      expect(report.builds.map((b: { attention: string }) => b.attention)).toEqual(['plain', 'fused']);

      const rows = report.rows as Row[];
      expect(rows.map((x) => `${x.attention}/${x.variant}`)).toEqual(['plain/baseline', 'plain/validation-disabled', 'fused/baseline']);
      for (const x of rows) {
        expect(x).toMatchObject({ dtype: 'fp32', batch: 2, finite: true, ok: true });
        expect(x.options).toEqual(report.variants[x.variant]);
        expect(x.seconds_all).toHaveLength(1);
        expect(x.seconds_per_forward).toBeGreaterThan(0);
        expect(x.cpu_seconds_per_forward).toBeGreaterThan(0);
        // DiT-S/8's output (learned sigma: 8 channels) from random weights: a scale near 0.6, not zeros.
        expect(x.output_rms).toBeGreaterThan(0.1);
        if (x.variant === 'baseline') {
          expect(x.relative_error).toBeNull();
          expect(x.speedup).toBe(1);
        } else {
          // Options change no arithmetic: rounding at most.
          expect(x.relative_error).toBeLessThanOrEqual(1e-5);
          expect(x.speedup).toBeCloseTo(rows.find((b) => b.attention === x.attention && b.variant === 'baseline')!.seconds_per_forward / x.seconds_per_forward, 12);
        }
      }
      expect(report.attention_checks).toHaveLength(1);
      expect(report.attention_checks[0]).toMatchObject({ dtype: 'fp32', batch: 2, attention: 'fused', ok: true });
      expect(report.attention_checks[0].relative_error_to_plain).toBeLessThanOrEqual(1e-4);
      // The table: a line per row, then the attention check.
      expect(lines.filter((l) => /^\| fp32 \| (plain|fused) \| 2 \| /.test(l))).toHaveLength(rows.length);
      expect(r.stdout).toMatch(/fp32 batch 2: fused attention against plain \(baselines\): [\d.]+× the speed, rel\. err\. [\d.e+-]+ \(tolerance 0\.0001\) ok/);
    },
    300_000,
  );
});
