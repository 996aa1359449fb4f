/**
 * Ctrl-C (SIGINT) or SIGTERM while `dit sample` / `dit bench` writes a compiled model (into the
 * cache, or into TMPDIR with --no-cache): the process removes its unfinished model folder, says so
 * in one line and exits 128 + the signal's number; the cache is then used by the next run as if
 * nothing had happened. `dit serve` stopped while its worker thread builds removes the folder too.
 *
 * The signal comes at a real point of a real build: the CLI runs as its own process on a DiT-S/2-size
 * checkpoint (65 MB, written here), and the test stops it with SIGSTOP once saveModel's data file is
 * being written, checks that it is still unfinished, sends the signal and lets it go on (SIGCONT).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy } from '../../src/checkpoint/index.js';
import type { DiTConfig } from '../../src/models/dit.js';
import { syntheticDiT, writeSafetensors } from '../helpers/checkpoint-writers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-interrupt-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** DiT-S/2's blocks (33 M parameters) over an 8×8 latent: a build of about a second, a forward of milliseconds. */
const config: DiTConfig = { input_size: 8, patch_size: 2, in_channels: 4, hidden_size: 384, depth: 12, num_heads: 6, mlp_ratio: 4, class_dropout_prob: 0.1, num_classes: 10, learn_sigma: true };

function writeCheckpoint(): string {
  const dir = path.join(root, 'ckpt');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  writeSafetensors(path.join(dir, 'model.safetensors'), syntheticDiT(config, 'F16'));
  return dir;
}

interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** The files under `dir`, two levels down (a build folder and its files). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const p = path.join(dir, name);
    out.push(p);
    if (fs.statSync(p, { throwIfNoEntry: false })?.isDirectory()) for (const f of fs.readdirSync(p)) out.push(path.join(p, f));
  }
  return out;
}

/** The CLI from source, as its own process (so that signals are real). */
function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): { pid: number; exited: Promise<Exit> } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '-e', "const m = await import('./src/cli/main.ts'); process.exitCode = await m.main(['node', 'dit', ...process.argv.slice(1)])", ...args],
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } },
  );
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return { pid: child.pid!, exited: new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr }))) };
}

/**
 * Runs the CLI and sends `signal` while saveModel is writing `<watched>/<build folder>/model.onnx.data.tmp-PID`.
 * Undefined when the build finished before the process could be stopped (the caller tries again).
 */
async function interruptBuild(args: readonly string[], watched: string, signal: NodeJS.Signals, env: NodeJS.ProcessEnv = {}): Promise<Exit | undefined> {
  const { pid, exited } = spawnCli(args, env);
  let done: Exit | undefined;
  void exited.then((e) => (done = e));
  const writing = () => filesUnder(watched).some((f) => f.endsWith(`model.onnx.data.tmp-${pid}`));
  while (!done && !writing()) await new Promise((r) => setTimeout(r, 5));
  if (done) throw new Error(`the CLI exited (${done.code}) before its build was seen: ${done.stderr}`);
  process.kill(pid, 'SIGSTOP');
  const stillWriting = writing();
  process.kill(pid, stillWriting ? signal : 'SIGKILL'); // too late: this run tells nothing (and dit serve would not end)
  process.kill(pid, 'SIGCONT');
  const exit = await exited;
  return stillWriting ? exit : undefined;
}

/** interruptBuild, again (at most 3 times, each on fresh folders) when the build outran the test. */
async function interruptSomeBuild(attempt: (n: number) => Promise<Exit | undefined>): Promise<Exit> {
  for (let n = 0; n < 3; n++) {
    const exit = await attempt(n);
    if (exit) return exit;
  }
  throw new Error('three builds finished before the test could stop them');
}

describe('a signal during a model build', () => {
  const ckpt = writeCheckpoint();

  it('Ctrl-C during dit sample: exit 130, one line, no temporary folder, and the next run builds and uses the cache', async () => {
    let cacheDir = '';
    const sample = () => ['sample', '--ckpt', ckpt, '--vae', 'none', '--save-latents', path.join(cacheDir, 'x.npy'), '--num-sampling-steps', '2', '--class-labels', '1', '--cache-dir', cacheDir, '--quiet'];
    const exit = await interruptSomeBuild((n) => {
      cacheDir = path.join(root, `cache-${n}`);
      fs.mkdirSync(cacheDir);
      return interruptBuild(sample(), path.join(cacheDir, 'compiled'), 'SIGINT');
    });
    expect(exit).toEqual({ code: 130, signal: null, stderr: 'dit: interrupted by SIGINT; its unfinished model files were removed\n' });
    expect(fs.readdirSync(path.join(cacheDir, 'compiled'))).toEqual([]);
    expect(fs.existsSync(path.join(cacheDir, 'x.npy'))).toBe(false);

    expect(await spawnCli(sample()).exited).toEqual({ code: 0, signal: null, stderr: '' });
    const entries = fs.readdirSync(path.join(cacheDir, 'compiled'));
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatch(/^dit-[0-9a-f]{24}$/);
    expect(fs.readdirSync(path.join(cacheDir, 'compiled', entries[0]!)).sort()).toEqual(['meta.json', 'model.onnx', 'model.onnx.data']);
    expect(readNpy(path.join(cacheDir, 'x.npy')).shape).toEqual([1, 4, 8, 8]);
  });

  it('SIGTERM during dit bench: exit 143, one line, and its folder in TMPDIR is gone', async () => {
    let tmp = '';
    const exit = await interruptSomeBuild((n) => {
      tmp = path.join(root, `tmp-${n}`);
      fs.mkdirSync(tmp);
      return interruptBuild(['bench', '--model', 'DiT-S/2', '--image-size', '64', '--batch', '1', '--repeats', '1', '--threads', '1', '--json'], tmp, 'SIGTERM', { TMPDIR: tmp });
    });
    expect(exit).toEqual({ code: 143, signal: null, stderr: 'dit: interrupted by SIGTERM; its unfinished model files were removed\n' });
    expect(fs.readdirSync(tmp).filter((name) => name.startsWith('dit-'))).toEqual([]); // others' files (tsx's cache) may stay
  });

  it('Ctrl-C during dit sample --no-cache: its model folder in TMPDIR is gone', async () => {
    let tmp = '';
    const exit = await interruptSomeBuild((n) => {
      tmp = path.join(root, `no-cache-tmp-${n}`);
      fs.mkdirSync(tmp);
      const args = ['sample', '--ckpt', ckpt, '--vae', 'none', '--save-latents', path.join(tmp, 'x.npy'), '--num-sampling-steps', '2', '--no-cache', '--quiet'];
      return interruptBuild(args, tmp, 'SIGINT', { TMPDIR: tmp });
    });
    expect(exit).toEqual({ code: 130, signal: null, stderr: 'dit: interrupted by SIGINT; its unfinished model files were removed\n' });
    expect(fs.readdirSync(tmp).filter((name) => name.startsWith('dit-') || name === 'x.npy')).toEqual([]);
  });

  it('SIGTERM while dit serve loads: its worker thread removes the model it was writing, and the server stops as usual', async () => {
    let cacheDir = '';
    const exit = await interruptSomeBuild((n) => {
      cacheDir = path.join(root, `serve-cache-${n}`);
      return interruptBuild(['serve', '--ckpt', ckpt, '--vae', 'none', '--port', '0', '--cache-dir', cacheDir, '--quiet'], path.join(cacheDir, 'compiled'), 'SIGTERM');
    });
    expect(exit).toEqual({ code: 0, signal: null, stderr: 'dit serve: stopping\n' });
    expect(fs.readdirSync(path.join(cacheDir, 'compiled'))).toEqual([]);
  });
});
