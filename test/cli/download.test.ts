/** `dit download` on the command line: every name is tried, failures are reported, nothing empty is left. */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';

/** A loopback port nothing listens on: a connection to it is refused at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('dit download', () => {
  it('one failing name does not stop the others: each is reported, exit 1 at the end, no empty folder left', async () => {
    const cacheDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dit-download-cli-')), 'cache');
    const mirror = `http://127.0.0.1:${await closedPort()}/`;
    const r = await runCli(['download', 'vae-ema', 'DiT-XL-2-256', '--cache-dir', cacheDir, '--mirror', mirror, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`^dit: vae-ema: cannot reach ${mirror}stabilityai/sd-vae-ft-ema/resolve/main/config.json \\(.*\\); run the same command again to retry$`));
    expect(lines[1]).toMatch(new RegExp(`^dit: DiT-XL-2-256: cannot reach ${mirror}DiT/models/DiT-XL-2-256x256.pt \\(.*\\); run the same command again to retry$`));
    expect(lines[2]).toBe('dit: 2 of 2 downloads failed: vae-ema, DiT-XL-2-256');
    // With --mirror given, the advice is not to pass it.
    expect(r.stderr).not.toContain('pass --mirror');
    expect(fs.existsSync(cacheDir)).toBe(false);
  });

  it('a folder that existed before is kept', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-download-cli-'));
    const r = await runCli(['download', 'vae-mse', '--cache-dir', cacheDir, '--mirror', `http://127.0.0.1:${await closedPort()}`, '--quiet']);
    expect(r.code).toBe(1);
    expect(fs.readdirSync(cacheDir)).toEqual([]);
  });

  it('an unknown name is refused before anything is fetched (exit 2)', async () => {
    const cacheDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dit-download-cli-')), 'cache');
    const r = await runCli(['download', 'vae-ema', 'DiT-XL-2-1024', '--cache-dir', cacheDir, '--mirror', 'http://127.0.0.1:9/', '--quiet']);
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'dit: unknown download "DiT-XL-2-1024": must be one of DiT-XL-2-256, DiT-XL-2-512, SiT-XL-2-256, REPA-SiT-XL-2-256, vae-ema, vae-mse, inception\n' });
    expect(fs.existsSync(cacheDir)).toBe(false);
  });
});
