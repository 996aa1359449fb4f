/**
 * The GPU machine's path, run here: scripts/gpu-kit.sh packs the kit (node from the npm registry,
 * dist/, onnxruntime-node for linux-x64, the Vulkan loader debs), scripts/gpu-run.sh unpacks it
 * into a temporary folder and runs `dit` with the kit's node, and bench/gpu.sh runs in its small
 * mode through it on lavapipe, writing the JSON a device run would write.
 *
 * Building the kit needs the npm registry and Debian's archive the first time (and xz takes a
 * minute or two on 2 cores); the downloads and compressed parts are kept in .gpu-kit-cache, so
 * later runs take seconds. The tests skip, saying so, only when the registry cannot be reached and
 * nothing is cached.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ditConfigFor, ditForwardOps } from '../../src/models/dit.js';
import { deviceFailure } from '../../src/runtime/index.js';
import { FIXTURE_DIR } from '../models/dit-fixture.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MIB = 1024 * 1024;
const webgpuProblem = await deviceFailure('webgpu');
const requireWebgpu = process.env.DIT_REQUIRE_WEBGPU === '1';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[], env: Record<string, string> = {}, timeoutMs = 300_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: root, env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 * MIB }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const tmp = mkdtempSync(path.join(tmpdir(), 'dit-gpu-kit-test-'));
const kit = path.join(tmp, 'kit');
const runEnv = { DIT_GPU_KIT: kit, DIT_GPU_DEST: path.join(tmp, 'dest'), DIT_GPU_PRIVATE_GL: '1' };
let build: Run;
/** Why the kit could not be built here for want of a network, if so. */
let offline: string | undefined;

beforeAll(async () => {
  // `npm test` compiled dist/ just before; a lone vitest run compiles it in the script.
  const skipBuild = existsSync(path.join(root, 'dist/cli/main.js')) ? '1' : '0';
  build = await run('bash', ['scripts/gpu-kit.sh', kit], { GPU_KIT_SKIP_BUILD: skipBuild }, 900_000);
  if (build.code !== 0 && /cannot reach the npm registry|Temporary failure resolving|Failed to fetch|Could not resolve host/.test(build.stderr)) {
    offline = `the kit cannot be built without the npm registry and Debian's archive: ${build.stderr.trim().split('\n').pop()}`;
  }
}, 900_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function manifest(): { node: string; bytes: number; files: Array<{ path: string; bytes: number }> } {
  return JSON.parse(readFileSync(path.join(kit, 'manifest.json'), 'utf8'));
}

describe('scripts/gpu-kit.sh', () => {
  it('packs node at our major from npm, dist/, onnxruntime-node for linux-x64 only and the Vulkan loader, under 60 MiB', async (ctx) => {
    ctx.skip(offline !== undefined, offline);
    expect(build.stderr).not.toContain('gpu-kit: warning: kit + tracked tree');
    expect(build.code, build.stderr).toBe(0);
    const m = manifest();
    const engines = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).engines.node as string;
    expect(m.node.split('.')[0]).toBe(/\d+/.exec(engines)![0]);
    const names = m.files.map((f) => f.path);
    for (const f of ['node.tar.xz', 'ort.tar.xz', 'app.tar.xz']) expect(names).toContain(f);
    expect(names.some((f) => /^gl\/libvulkan1_.*_amd64\.deb$/.test(f))).toBe(true);
    // The check's fixture travels in the kit unless the tree carries it.
    expect(m.bytes).toBe(m.files.reduce((a, f) => a + f.bytes, 0));
    expect(m.bytes).toBeLessThan(60 * MIB);

    const ort = await run('tar', ['-tJf', path.join(kit, 'ort.tar.xz')]);
    const ortFiles = ort.stdout.split('\n').filter((l) => l && !l.endsWith('/'));
    expect(ortFiles.sort()).toEqual(['./node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1', './node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node']);
    const app = (await run('tar', ['-tJf', path.join(kit, 'app.tar.xz')])).stdout.split('\n');
    expect(app).toContain('./dist/cli/main.js');
    expect(app).toContain('./node_modules/onnxruntime-node/dist/index.js');
    expect(app).toContain('./node_modules/commander/package.json');
    expect(app.filter((f) => /napi-v6|^\.\/dist\/web\/|^\.\/dist\/.*\.map$|node_modules\/(vitest|typescript|vite)\//.test(f))).toEqual([]);
  });
});

describe('scripts/gpu-run.sh', () => {
  it("runs commands with the kit's node, unpacked into a temporary folder", async (ctx) => {
    ctx.skip(offline !== undefined, offline);
    expect(build.code, build.stderr).toBe(0);
    const r = await run('bash', ['scripts/gpu-run.sh', 'node', '-p', 'process.execPath + " " + process.version'], runEnv);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`${path.join(tmp, 'dest', 'node', 'bin', 'node')} v${manifest().node}`);
  });

  it('runs `dit bench --device cpu` and prints its JSON line', async (ctx) => {
    ctx.skip(offline !== undefined, offline);
    expect(build.code, build.stderr).toBe(0);
    const r = await run('bash', ['scripts/gpu-run.sh', 'dit', 'bench', '--device', 'cpu', '--model', 'DiT-S/8', '--image-size', '64', '--batch', '1', '--repeats', '1', '--threads', '1', '--json'], runEnv);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]!) as Record<string, number | string>;
    expect(j).toMatchObject({ model: 'DiT-S/8', image_size: 64, batch: 1, device: 'cpu', threads: 1 });
    expect(j.gops_per_forward).toBeCloseTo(ditForwardOps(ditConfigFor('DiT-S/8', { input_size: 8 }), 1) / 1e9, 9);
    expect(j.seconds_per_forward).toBeGreaterThan(0);
  });
});

describe('bench/gpu.sh', () => {
  it.runIf(webgpuProblem === undefined || requireWebgpu)('small mode on lavapipe, through the kit: one JSON with every part, the fixture within 1e-3', async (ctx) => {
    ctx.skip(offline !== undefined, offline);
    if (webgpuProblem !== undefined) throw new Error(`DIT_REQUIRE_WEBGPU=1 but WebGPU is not usable here: ${webgpuProblem}`);
    expect(build.code, build.stderr).toBe(0);
    const out = path.join(tmp, 'out');
    const r = await run('bash', ['scripts/gpu-run.sh', 'bash', 'bench/gpu.sh', out], { ...runEnv, DIT_GPU_BENCH: 'small', DIT_FIXTURES: path.dirname(FIXTURE_DIR) }, 400_000);
    expect(r.code, r.stdout.slice(-3000)).toBe(0);
    const j = JSON.parse(readFileSync(path.join(out, 'gpu-bench.json'), 'utf8'));
    expect(j).toMatchObject({ mode: 'small', model: 'DiT-S/8', sample_model: 'tiny', image_size: 64 });
    expect(j.steps.filter((s: { exit_code?: number }) => s.exit_code !== undefined && s.exit_code !== 0)).toEqual([]);

    // (d) the official results, on WebGPU
    expect(j.correctness.device).toBe('webgpu');
    expect(j.correctness.forward.map((f: { attention: string }) => f.attention)).toEqual(['fused', 'plain']);
    for (const f of j.correctness.forward) expect(f.relative_error).toBeLessThan(1e-3);
    expect(j.correctness.sample.relative_error).toBeLessThan(1e-3);
    // The embedded model (64 tokens) against the CPU: the default WebGPU attention (plain) within 1e-4
    // (measured 4e-7 on lavapipe); the fused form is reported too (1.5e-2 there, ORT 1.30).
    expect(j.correctness.embedded.map((f: { attention: string }) => f.attention)).toEqual(['fused', 'plain']);
    expect(j.correctness.embedded[1].relative_error_vs_cpu).toBeLessThan(1e-4);
    // DiT-XL/2-256's attention shapes: the plain form within 1e-4 of the CPU (4.7e-7 on lavapipe);
    // fused against the CPU and against plain reported (4e-3 on lavapipe).
    expect(j.correctness.tokens256).toMatchObject({ tokens: 256, heads: 16, head_size: 72, batch: 2 });
    expect(j.correctness.tokens256.forms.map((f: { attention: string }) => f.attention)).toEqual(['fused', 'plain']);
    expect(j.correctness.tokens256.forms[1].relative_error_vs_cpu).toBeLessThan(1e-4);
    expect(j.correctness.tokens256.fused_vs_plain).toBeGreaterThan(0);

    // (a) the fp32 forward timed with the default attention form (plain on webgpu), then fused; other
    // precisions as dit bench offers them
    const fp32 = j.webgpu_bench.find((b: { dtype: string }) => b.dtype === 'fp32');
    expect(fp32).toMatchObject({ step: 'bench-webgpu-fp32-b2', attention: 'plain', graph: { attention: 'plain' }, batch: 2, device: 'webgpu', model: 'DiT-S/8', image_size: 64 });
    expect(fp32.gops_per_forward).toBeCloseTo(ditForwardOps(ditConfigFor('DiT-S/8', { input_size: 8 }), 2) / 1e9, 9);
    expect(j.webgpu_bench.find((b: { step: string }) => b.step === 'bench-webgpu-fp32-fused-b2')).toMatchObject({ attention: 'fused', graph: { attention: 'fused' }, batch: 2 });
    expect(j.webgpu_bench.map((b: { step: string }) => b.step)).toEqual(['bench-webgpu-fp32-b2', 'bench-webgpu-fp32-fused-b2', 'bench-webgpu-fp16-b2', 'bench-webgpu-fp16-fused-b2']);
    for (const b of j.webgpu_bench.filter((x: { dtype: string }) => x.dtype !== 'fp32')) {
      if (b.skipped !== undefined) expect(b.skipped).toBe(`dit bench does not offer --dtype ${b.dtype} yet`);
      else expect(b.seconds_per_forward, JSON.stringify(b)).toBeGreaterThan(0);
    }

    // (b) PyTorch: measured, or skipped with the reason
    expect(j.torch.results !== undefined || typeof j.torch.skipped === 'string', JSON.stringify(j.torch)).toBe(true);

    // (c) both samplers end to end in fp32, fp16 and fp16 with fused attention, with dit sample's own split of the time
    expect(j.samples.map((s: { sampler: string; dtype: string; attention: string; steps: number }) => [s.sampler, s.dtype, s.attention, s.steps])).toEqual([
      ['dpm-solver++', 'fp32', 'plain', 2],
      ['ddpm', 'fp32', 'plain', 2],
      ['dpm-solver++', 'fp16', 'plain', 2],
      ['ddpm', 'fp16', 'plain', 2],
      ['dpm-solver++', 'fp16', 'fused', 2],
      ['ddpm', 'fp16', 'fused', 2],
    ]);
    for (const s of j.samples) expect(s.timing_line).toMatch(new RegExp(`· dtype ${s.dtype} · attention ${s.attention}$`));
    for (const s of j.samples) {
      expect([s.load_s, s.sample_s, s.decode_s].every((x) => typeof x === 'number' && x >= 0), JSON.stringify(s)).toBe(true);
      // dit sample prints each part to 0.1 s
      expect(s.load_s + s.sample_s + s.decode_s).toBeLessThanOrEqual(s.wall_s + 0.15);
    }

    const table = readFileSync(path.join(out, 'gpu-bench.md'), 'utf8');
    expect(table).toContain('| dit-ts WebGPU fp32 plain | 2 |');
    expect(table).toContain('| dit-ts WebGPU fp32 fused | 2 |');
    // The goals' rule on fused rows follows this run's check (lavapipe: the fused form is wrong).
    const fusedErrors = [j.correctness.embedded[0], j.correctness.tokens256.forms[0]].map((f: { relative_error_vs_cpu: number }) => f.relative_error_vs_cpu);
    expect(j.goals.fused_attention_wrong).toBe(fusedErrors.some((e: number) => e > 1e-3));
    expect(r.stdout).toContain(table);
  });
});
