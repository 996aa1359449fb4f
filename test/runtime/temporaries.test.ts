/**
 * runtime/temporaries.ts apart from a build: what it does to a program that has its own signal
 * handling (dit worker, dit serve, an embedding application), and at an ordinary exit.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs `code` (ESM, with `track` = trackTemporary and `dir` a fresh folder) as its own process; SIGINT once it prints "ready". */
async function run(code: string): Promise<{ code: number | null; stdout: string; stderr: string; dirLeft: boolean }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-temporaries-'));
  const prelude = `const { trackTemporary: track } = await import('./src/runtime/temporaries.ts'); const dir = ${JSON.stringify(dir)};`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `${prelude}\n${code}`], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    if (stdout === 'ready\n') child.kill('SIGINT');
  });
  const exitCode = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const dirLeft = fs.existsSync(dir);
  fs.rmSync(dir, { recursive: true, force: true });
  return { code: exitCode, stdout, stderr, dirLeft };
}

describe('tracked temporary folders', () => {
  it('a program with its own SIGINT listener keeps it: the signal is its to handle, and the folder goes when it exits', async () => {
    const r = await run(`
      process.on('SIGINT', () => { process.stdout.write('mine\\n'); setTimeout(() => process.exit(0), 20); });
      track(dir);
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);`);
    expect(r).toEqual({ code: 0, stdout: 'ready\nmine\n', stderr: '', dirLeft: false });
  });

  it('once nothing is tracked, a signal keeps its default (the process is killed, nothing printed)', async () => {
    const r = await run(`
      const untrack = track(dir);
      untrack();
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);`);
    expect(r).toEqual({ code: null, stdout: 'ready\n', stderr: '', dirLeft: true });
  });

  it('while a folder is tracked, SIGINT removes it and exits 130 with one line', async () => {
    const r = await run(`
      track(dir);
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);`);
    expect(r).toEqual({ code: 130, stdout: 'ready\n', stderr: 'dit: interrupted by SIGINT; its unfinished model files were removed\n', dirLeft: false });
  });
});
