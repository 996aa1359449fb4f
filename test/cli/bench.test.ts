import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { ditConfigFor, ditForwardOps } from '../../src/models/dit.js';
import { deviceFailure } from '../../src/runtime/index.js';

const webgpuProblem = await deviceFailure('webgpu');

describe('dit bench', () => {
  it('prints one JSON line with the timing, the op count and the MatMul reference', async () => {
    const r = await runCli(['bench', '--model', 'DiT-S/8', '--image-size', '128', '--batch', '1', '--repeats', '1', '--threads', '1', '--json']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(j).toMatchObject({ model: 'DiT-S/8', image_size: 128, batch: 1, device: 'cpu', threads: 1, matmul_shape: [4, 384, 1536] });
    expect(j.gops_per_forward).toBeCloseTo(ditForwardOps(ditConfigFor('DiT-S/8', { input_size: 16 }), 1) / 1e9, 9);
    for (const k of ['seconds_per_forward', 'gflops_per_s', 'matmul_gflops_per_s', 'build_s', 'session_s', 'peak_rss_mb']) {
      expect(j[k], k).toBeGreaterThan(0);
    }
    expect(j.gflops_per_s as number).toBeCloseTo((j.gops_per_forward as number) / (j.seconds_per_forward as number), 6);
  });

  it('accepts every spelling of a variant that dit sample accepts', async () => {
    const r = await runCli(['bench', '--model', 'dit-s-8', '--image-size', '64', '--batch', '1', '--repeats', '1', '--threads', '1', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout) as Record<string, unknown>).toMatchObject({ model: 'DiT-S/8', image_size: 64, batch: 1 });
  });

  it('rejects bad flags with exit code 2 and the resolver\'s message naming the value', async () => {
    expect(await runCli(['bench', '--model', 'DiT-Q/2'])).toMatchObject({ code: 2, stderr: expect.stringContaining('--model "DiT-Q/2" is not a known model: must be one of DiT-XL/2, DiT-XL/4') });
    expect(await runCli(['bench', '--image-size', '100'])).toMatchObject({ code: 2, stderr: "dit: --image-size 100 cannot be cut into DiT-XL/2's tokens: it must be a multiple of 16 (latent = image / 8, patch 2)\n" });
    expect(await runCli(['bench', '--model', 'DiT-S/8', '--image-size', '96'])).toMatchObject({ code: 2, stderr: "dit: --image-size 96 cannot be cut into DiT-S/8's tokens: it must be a multiple of 64 (latent = image / 8, patch 8)\n" });
    expect(await runCli(['bench', '--attention', 'flash'])).toMatchObject({ code: 2, stderr: 'dit: --attention "flash" is not supported: must be one of fused, plain\n' });
    expect(await runCli(['bench', '--device', 'tpu'])).toMatchObject({ code: 2, stderr: 'dit: --device "tpu" is not supported: must be one of cpu, webgpu, cuda\n' });
    expect(await runCli(['bench', '--batch', '0'])).toMatchObject({ code: 2, stderr: 'dit: --batch "0" is out of range: must be an integer in 1..1024 (2 = one image with guidance)\n' });
  });
});

describe('dit bench --dtype', () => {
  it('times the q8 graph and says so in its JSON line; q8 on webgpu is refused', async () => {
    const r = await runCli(['bench', '--model', 'DiT-S/8', '--image-size', '64', '--repeats', '1', '--dtype', 'q8', '--json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(json.graph).toMatchObject({ attention: 'fused', dtype: 'q8' });
    expect(json.seconds_per_forward).toBeGreaterThan(0);
    expect(await runCli(['bench', '--dtype', 'q8', '--device', 'webgpu'])).toMatchObject({
      code: 2,
      stderr: 'dit: --dtype q8 does not run on --device webgpu: it runs on cpu; use --device cpu, or on webgpu --dtype fp32 or fp16\n',
    });
  });

  // Runs wherever a WebGPU adapter is found (Mesa lavapipe in CI, DIT_REQUIRE_WEBGPU=1 there).
  it.runIf(webgpuProblem === undefined || process.env.DIT_REQUIRE_WEBGPU === '1')('times the fp16 graph on WebGPU against a float16 MatMul; fp16 on the CPU is refused', async () => {
    const r = await runCli(['bench', '--model', 'DiT-S/8', '--image-size', '64', '--repeats', '1', '--dtype', 'fp16', '--device', 'webgpu', '--json']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(json.graph).toMatchObject({ attention: 'plain', dtype: 'fp16' });
    expect(json.matmul_dtype).toBe('fp16');
    expect(json.seconds_per_forward).toBeGreaterThan(0);
    expect(await runCli(['bench', '--dtype', 'fp16'])).toMatchObject({
      code: 2,
      stderr: 'dit: --dtype fp16 does not run on --device cpu: it runs on webgpu, cuda; use --device webgpu, or on cpu --dtype fp32 or q8\n',
    });
  }, 300_000); // DiT-S/8's random weights built and run on lavapipe: 144 s on this project's loaded 2-core machine
});
