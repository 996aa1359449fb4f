import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { download, officialVaeDir } from '../src/download.js';
import { vaeTiny } from './helpers/fixtures.js';

const vaeWeights = fs.readFileSync(vaeTiny('diffusion_pytorch_model.safetensors'));
const vaeConfig = fs.readFileSync(vaeTiny('config.json'));

/** A loopback server with Range support that can be told to drop the connection half-way. */
let server: http.Server;
let base = '';
let dropNextAfter: number | undefined;
const requests: Array<{ url: string; range: string | undefined }> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', range: req.headers.range });
    const files: Record<string, Buffer> = {
      '/stabilityai/sd-vae-ft-ema/resolve/main/config.json': vaeConfig,
      '/stabilityai/sd-vae-ft-ema/resolve/main/diffusion_pytorch_model.safetensors': vaeWeights,
    };
    const body = files[req.url ?? ''];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const slice = body.subarray(start);
    res.writeHead(m ? 206 : 200, { 'content-length': slice.length });
    if (dropNextAfter !== undefined && slice.length > dropNextAfter) {
      const cut = dropNextAfter;
      dropNextAfter = undefined;
      res.write(slice.subarray(0, cut), () => res.destroy());
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('dit download', () => {
  it('fetches the VAE folder, resumes an interrupted file with a Range request, and renames it in place', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-dl-'));
    dropNextAfter = 1_000_000;
    await expect(download('vae-ema', { cacheDir, mirror: base })).rejects.toThrow();
    const dir = officialVaeDir(cacheDir, 'ema');
    const part = path.join(dir, 'diffusion_pytorch_model.safetensors.part');
    expect(fs.existsSync(path.join(dir, 'diffusion_pytorch_model.safetensors'))).toBe(false);
    const partial = fs.statSync(part).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(vaeWeights.length);

    requests.length = 0;
    const seen: number[] = [];
    const paths = await download('vae-ema', { cacheDir, mirror: base, onProgress: (p) => seen.push(p.received) });
    expect(paths).toEqual([path.join(dir, 'config.json'), path.join(dir, 'diffusion_pytorch_model.safetensors')]);
    expect(requests).toEqual([{ url: '/stabilityai/sd-vae-ft-ema/resolve/main/diffusion_pytorch_model.safetensors', range: `bytes=${partial}-` }]);
    expect(fs.readFileSync(paths[1]!).equals(vaeWeights)).toBe(true);
    expect(fs.readFileSync(paths[0]!).equals(vaeConfig)).toBe(true);
    expect(fs.existsSync(part)).toBe(false);
    expect(seen.at(-1)).toBe(vaeWeights.length);
  });

  it('names the allowed downloads for an unknown one, and reports HTTP errors', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-dl-'));
    await expect(download('DiT-XL-2-1024', { cacheDir, mirror: base })).rejects.toThrow(
      'unknown download "DiT-XL-2-1024": must be one of DiT-XL-2-256, DiT-XL-2-512, vae-ema, vae-mse',
    );
    await expect(download('DiT-XL-2-256', { cacheDir, mirror: base })).rejects.toThrow('HTTP 404');
    expect(fs.readdirSync(path.join(cacheDir, 'models'))).toEqual([]);
  });
});
