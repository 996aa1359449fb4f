import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { runCli } from '../helpers/run-cli.js';
import { request } from './client.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('dit serve flags', () => {
  it.each([
    [['--port', 'abc'], 'dit: --port "abc" is not a number: must be an integer in 0..65535 (0 picks a free port)\n'],
    [['--port', '70000'], 'dit: --port "70000" is out of range: must be an integer in 0..65535 (0 picks a free port)\n'],
    [['--max-images', '0'], 'dit: --max-images "0" is out of range: must be an integer in 1..256 (images per request)\n'],
    [['--max-queue', 'x'], 'dit: --max-queue "x" is not a number: must be an integer in 1..1000 (jobs waiting or running)\n'],
    [['--host', ' '], 'dit: --host is empty: pass an address such as 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)\n'],
    [['--device', 'tpu'], 'dit: --device "tpu" is not supported: must be one of cpu, webgpu, cuda\n'],
  ])('serve %j → exit 2 with one line', async (args, message) => {
    const r = await runCli(['serve', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(message);
    expect(r.stdout).toBe('');
  });

  it('says when the port is taken', async () => {
    const blocker = http.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const r = await runCli(['serve', '--quiet', '--port', String(port)]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`dit: port ${port} on 127.0.0.1 is already in use; pass another --port (0 picks a free one)\n`);
    } finally {
      blocker.close();
    }
  });

  it('says when the host is not an address of this machine', async () => {
    const r = await runCli(['serve', '--quiet', '--host', '192.0.2.1']); // TEST-NET-1, never local
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('dit: --host 192.0.2.1 is not an address of this machine; use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)\n');
  });
});

describe('dit serve process', () => {
  it('prints its URL, serves the API, and stops cleanly on SIGTERM', async () => {
    // The CLI from source (bin/dit.js needs a build), as its own process so signals are real.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '-e', "const m = await import('./src/cli/main.ts'); process.exitCode = await m.main(['node', 'dit', ...process.argv.slice(1)])", 'serve', '--port', '0', '--quiet'],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
        const m = /^(http:\/\/127\.0\.0\.1:\d+\/)\n/.exec(stdout);
        if (m) resolve(m[1]!);
      });
      child.on('exit', (code) => reject(new Error(`dit serve exited with ${code} before printing its URL: ${stderr}`)));
    });
    const info = await request(`${url}api/info`);
    expect(info.status).toBe(200);
    expect(info.body.embedded).toBe(true);
    expect(info.body.numClasses).toBe(10);

    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(stderr).toMatch(/^dit serve: .*\ndit serve: stopping\n$/);
  });
});
