/**
 * VAE cache entries stored as ONNX Runtime optimised them (issue 12, the first decode of a process):
 * on the CPU at level 'all' the entry holds the optimised model, keyed by ONNX Runtime's version and
 * this CPU, and decodes exactly as the plain graph optimised at load; entries written before (the
 * plain graph) are not run on the CPU; an entry of another ONNX Runtime version for this CPU is
 * deleted once the new one is built; a damaged stored entry is rebuilt like any other.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/checkpoint/npy.js';
import { openVaeSession } from '../../src/model-files.js';
import { cacheKey } from '../../src/runtime/compiled-cache.js';
import { optimizedModelTarget } from '../../src/runtime/session.js';
import type { VaeSessionOptions } from '../../src/runtime/vae-session.js';
import { fixtureDir, vaeTinyRenamed } from '../helpers/fixtures.js';

const FIXTURE = fixtureDir('vae-tiny');
const latents = readNpy(path.join(FIXTURE, 'decode.latents.npy'));
const shape = latents.shape as [number, number, number, number];
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'vae-stored-test-'));
const file = path.join(root, 'vae', 'diffusion_pytorch_model.safetensors');
fs.mkdirSync(path.dirname(file));
fs.copyFileSync(vaeTinyRenamed(), file);
fs.copyFileSync(path.join(FIXTURE, 'config.json'), path.join(root, 'vae', 'config.json'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function decode(opts: VaeSessionOptions): Promise<number[]> {
  const vae = await openVaeSession(file, opts);
  try {
    return Array.from((await vae.decode(latents.data as Float32Array, shape)).data);
  } finally {
    await vae.release();
  }
}

interface Meta {
  key: string;
  created: string;
  parts: { optimizedFor?: { ort: string; cpu: string } } & Record<string, unknown>;
}
const entries = (cacheDir: string) => fs.readdirSync(cacheDir).filter((d) => d.startsWith('vae-')).sort();
const meta = (cacheDir: string, entry: string): Meta => JSON.parse(fs.readFileSync(path.join(cacheDir, entry, 'meta.json'), 'utf8')) as Meta;
const freshCache = () => fs.mkdtempSync(path.join(root, 'cache-'));

describe('VAE cache entries stored optimised', () => {
  for (const dtype of ['fp32', 'fp16'] as const) {
    it(`${dtype}: the entry is the model as ONNX Runtime optimised it for this CPU, and decodes exactly as the plain graph`, async () => {
      const cacheDir = freshCache();
      const plain = await decode({ dtype, noCache: true });
      const built = await decode({ dtype, cacheDir });
      const [entry] = entries(cacheDir);
      expect(entries(cacheDir)).toHaveLength(1);
      expect(meta(cacheDir, entry!).parts.optimizedFor).toEqual(optimizedModelTarget());
      expect(fs.readdirSync(path.join(cacheDir, entry!)).sort()).toEqual(['meta.json', 'model.onnx', 'model.onnx.data']);
      // ONNX Runtime's NCHWc layout (x64 only) is in the stored graph: the transform is not redone at load.
      expect(fs.readFileSync(path.join(cacheDir, entry!, 'model.onnx')).includes('com.microsoft.nchwc')).toBe(process.arch === 'x64');
      const created = meta(cacheDir, entry!).created;
      const reloaded = await decode({ dtype, cacheDir });
      expect(meta(cacheDir, entry!).created).toBe(created); // reloaded, not rebuilt
      expect(entries(cacheDir)).toEqual([entry]);
      expect(built).toEqual(plain);
      expect(reloaded).toEqual(plain);
    });
  }

  it('an entry written before (the plain graph) is not run on the CPU; one of another ONNX Runtime version for this CPU is deleted', async () => {
    const cacheDir = freshCache();
    // Level 'extended' is not stored optimised: it writes the plain graph under the key used before.
    await decode({ cacheDir, graphOptimizationLevel: 'extended' });
    const [old] = entries(cacheDir);
    expect(meta(cacheDir, old!).parts.optimizedFor).toBeUndefined();
    await decode({ cacheDir });
    const stored = entries(cacheDir).find((e) => e !== old)!;
    expect(entries(cacheDir)).toHaveLength(2);
    expect(meta(cacheDir, stored).parts.optimizedFor).toEqual(optimizedModelTarget());

    // Copies of the stored entry as if written by another ONNX Runtime version, on this CPU and on another.
    const target = optimizedModelTarget();
    const copyFor = (optimizedFor: { ort: string; cpu: string }) => {
      const m = meta(cacheDir, stored);
      const parts = { ...m.parts, optimizedFor };
      const name = `vae-${cacheKey(parts)}`;
      fs.cpSync(path.join(cacheDir, stored), path.join(cacheDir, name), { recursive: true });
      fs.writeFileSync(path.join(cacheDir, name, 'meta.json'), JSON.stringify({ ...m, key: cacheKey(parts), parts }));
      return name;
    };
    const olderOrt = copyFor({ ort: '0.0.1', cpu: target.cpu });
    const otherCpu = copyFor({ ort: '0.0.1', cpu: 'another-cpu' });
    fs.rmSync(path.join(cacheDir, stored), { recursive: true });
    await decode({ cacheDir });
    expect(entries(cacheDir)).toEqual([old!, otherCpu, stored].sort());
    expect(entries(cacheDir)).not.toContain(olderOrt);
  });

  it('a stored entry with changed bytes is rebuilt, not run', async () => {
    const cacheDir = freshCache();
    const plain = await decode({ noCache: true });
    await decode({ cacheDir });
    const [entry] = entries(cacheDir);
    const created = meta(cacheDir, entry!).created;
    const data = path.join(cacheDir, entry!, 'model.onnx.data');
    const fd = fs.openSync(data, 'r+');
    fs.writeSync(fd, Buffer.alloc(64, 0x7f), 0, 64, Math.floor(fs.statSync(data).size / 2));
    fs.closeSync(fd);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      expect(await decode({ cacheDir })).toEqual(plain);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).toContain(`the compiled model in ${path.join(cacheDir, entry!)} is damaged (model.onnx.data no longer has the content that was written); rebuilding it`);
    expect(meta(cacheDir, entry!).created).not.toBe(created);
  });
});
