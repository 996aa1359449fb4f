/**
 * `dit sample --device webgpu` as a user meets it: the software-adapter warning (once, ahead of
 * Dawn's own lines) and how far its images are from the CPU's.
 *
 * Tolerances, from bench/webgpu-drift.ts on Mesa lavapipe (embedded model, same seed, 4 images):
 * one forward 3.4e-7..5.0e-7 relative; the sample after each step at most 8.6e-7 (DDPM 100) and
 * 1.5e-6 (DDIM 50) relative; final images at most 2.2e-5 apart, which moved 1 of 4,096 8-bit values
 * by 1 (a value that sits on a rounding edge) and none by more. Few large steps amplify the
 * forward's error more (the first step predicts x0 from t = 999, dividing by √ᾱ ≈ 0.0064): the
 * 3-step DDPM run below measured 3.0e-5 (8 images) and 3.7e-5 (these 2) relative. The test allows
 * 2e-4 relative for the final samples (about 5× that) and 1 of 255 per 8-bit value. (Before WebGPU
 * got the plain attention form by default, ORT's WebGPU MultiHeadAttention put the embedded model
 * 2.2e-2 off per forward, and 3 steps differed by up to 16 of 255.)
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deviceFailure } from '../../src/runtime/session.js';
import { softwareOnlyVulkanDriver } from '../../src/runtime/webgpu-adapter.js';
import { readNpy } from '../../src/checkpoint/index.js';
import { decodePng } from '../../src/image/png.js';
import { relativeError } from '../helpers/compare.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const webgpuProblem = await deviceFailure('webgpu');
const requireWebgpu = process.env.DIT_REQUIRE_WEBGPU === '1';

function dit(args: readonly string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'bin/dit.js'), ...args], { cwd: repoRoot }, (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr }));
  });
}

describe('dit sample --device webgpu', () => {
  it.runIf(webgpuProblem === undefined || requireWebgpu)('warns once about a software adapter, and its images are within 1/255 of the CPU’s', async () => {
    if (webgpuProblem !== undefined) throw new Error(`DIT_REQUIRE_WEBGPU=1 but WebGPU is not usable here: ${webgpuProblem}`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-webgpu-cli-'));
    // Its own cache folder: a test never writes to the user's (~/.cache/dit-ts).
    const common = ['sample', '--classes', 'Sneaker,Bag', '--num-sampling-steps', '3', '--seed', '3', '--quiet', '--cache-dir', path.join(dir, 'cache')];
    const runs: Record<string, { code: number; stderr: string }> = {};
    for (const device of ['cpu', 'webgpu']) {
      runs[device] = await dit([...common, '--device', device, '--out', path.join(dir, `${device}.png`), '--save-latents', path.join(dir, `${device}.npy`)]);
      expect(runs[device]!.code).toBe(0);
    }
    const lines = runs.webgpu!.stderr.split('\n');
    const ours = lines.filter((l) => l.startsWith('dit: warning: --device webgpu runs on a software GPU'));
    const driver = softwareOnlyVulkanDriver();
    if (driver === undefined) {
      expect(ours).toEqual([]);
    } else {
      expect(ours).toHaveLength(1);
      expect(ours[0]).toContain(`(${driver},`);
      const dawn = lines.findIndex((l) => l.startsWith('Warning: ') && l.includes('artificially reduced'));
      if (dawn >= 0) expect(lines.indexOf(ours[0]!)).toBeLessThan(dawn);
    }
    expect(runs.cpu!.stderr).not.toMatch(/software GPU/);

    const a = readNpy(path.join(dir, 'cpu.npy')).data as Float32Array;
    const b = readNpy(path.join(dir, 'webgpu.npy')).data as Float32Array;
    expect(relativeError(b, a)).toBeLessThan(2e-4);
    const pa = decodePng(fs.readFileSync(path.join(dir, 'cpu.png')));
    const pb = decodePng(fs.readFileSync(path.join(dir, 'webgpu.png')));
    expect([pb.width, pb.height]).toEqual([pa.width, pa.height]);
    let worst = 0;
    for (let i = 0; i < pa.data.length; i++) worst = Math.max(worst, Math.abs(pa.data[i]! - pb.data[i]!));
    expect(worst).toBeLessThanOrEqual(1);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
