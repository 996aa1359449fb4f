/**
 * `dit download` against a loopback server that can misbehave: drop the connection, stall, send an
 * HTML page or random bytes, lie in Content-Length or Content-Range. The files it serves have the
 * SD VAE's real decoder shapes (stored as fp16 zeros, 99 MB), since a download is checked for them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { download } from '../src/download.js';
import { officialVaeDir } from '../src/model-files.js';
import { SD_VAE_CONFIG, vaeDecoderParameterShapes } from '../src/models/vae-config.js';
import { writeSafetensors } from './helpers/checkpoint-writers.js';
import { fixtureDir } from './helpers/fixtures.js';

/** A safetensors file of the SD VAE decoder's names and shapes, all zeros in fp16. */
function sdVaeDecoderSafetensors(): Buffer {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dit-dl-vae-')), 'vae.safetensors');
  const zeros = (shape: readonly number[]) => new Uint16Array(shape.reduce((a, b) => a * b, 1));
  writeSafetensors(file, [...vaeDecoderParameterShapes(SD_VAE_CONFIG)].map(([name, shape]) => ({ name, dtype: 'F16' as const, shape, data: () => zeros(shape) })));
  const bytes = fs.readFileSync(file);
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  return bytes;
}

const vaeWeights = sdVaeDecoderSafetensors();
const vaeConfig = Buffer.from(JSON.stringify({ _class_name: 'AutoencoderKL', ...SD_VAE_CONFIG, act_fn: 'silu', sample_size: 256 }));
const WEIGHTS_URL = '/stabilityai/sd-vae-ft-ema/resolve/main/diffusion_pytorch_model.safetensors';
// SiT's download.py and REPA's utils.py URLs (Dropbox), here serving REPA's tiny fixture: not an XL/2.
const SIT_URL = '/scl/fi/as9oeomcbub47de5g4be0/SiT-XL-2-256.pt?rlkey=uxzxmpicu46coq3msb17b9ofa&dl=0';
const REPA_URL = '/scl/fi/cxedbs4da5ugjq5wg3zrg/last.pt?rlkey=8otgrdkno0nd89po3dpwngwcc&st=apcc645o&dl=0';
const notXl = fs.readFileSync(path.join(fixtureDir('repa-tiny'), 'model.safetensors'));
const CONFIG_URL = '/stabilityai/sd-vae-ft-ema/resolve/main/config.json';

type Misbehaviour =
  | { kind: 'drop'; after: number }
  | { kind: 'stall'; after: number }
  | { kind: 'body'; body: Buffer }
  | { kind: 'short'; claimed: number; sent: number }
  | { kind: 'wrong-range' };

/** A loopback server with Range support; `next` makes the next weights request misbehave once. */
let server: http.Server;
let base = '';
let next: Misbehaviour | undefined;
const requests: Array<{ url: string; range: string | undefined }> = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', range: req.headers.range });
    const body = { [CONFIG_URL]: vaeConfig, [WEIGHTS_URL]: vaeWeights, [SIT_URL]: notXl, [REPA_URL]: notXl }[req.url ?? ''];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const slice = body.subarray(start);
    const bad = req.url === WEIGHTS_URL ? next : undefined;
    if (bad) next = undefined;
    if (bad?.kind === 'body') {
      res.writeHead(200, { 'content-length': bad.body.length, 'content-type': 'text/html' }).end(bad.body);
    } else if (bad?.kind === 'short') {
      res.writeHead(200, { 'content-length': bad.claimed });
      res.write(body.subarray(0, bad.sent), () => res.destroy());
    } else if (bad?.kind === 'wrong-range' && m) {
      // Answers a resume with bytes from another offset than asked.
      res.writeHead(206, { 'content-length': body.length - 10, 'content-range': `bytes 10-${body.length - 1}/${body.length}` }).end(body.subarray(10));
    } else {
      res.writeHead(m ? 206 : 200, { 'content-length': slice.length, ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}) });
      if ((bad?.kind === 'drop' || bad?.kind === 'stall') && slice.length > bad.after) {
        res.write(slice.subarray(0, bad.after), () => {
          if (bad.kind === 'drop') res.destroy();
        });
        return; // 'stall': the connection stays open and silent
      }
      res.end(slice);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});

function freshCache(): { cacheDir: string; dir: string; weights: string; part: string } {
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-dl-'));
  const dir = officialVaeDir(cacheDir, 'ema');
  const weights = path.join(dir, 'diffusion_pytorch_model.safetensors');
  return { cacheDir, dir, weights, part: `${weights}.part` };
}

describe('dit download', () => {
  it('fetches the VAE folder, resumes an interrupted file with a Range request, and renames it in place', async () => {
    const { cacheDir, dir, weights, part } = freshCache();
    next = { kind: 'drop', after: 1_000_000 };
    await expect(download('vae-ema', { cacheDir, mirror: base })).rejects.toThrow(
      `download broke off at 1000000 of ${vaeWeights.length} bytes from ${base.slice(0, -1)}${WEIGHTS_URL}`,
    );
    expect(fs.existsSync(weights)).toBe(false);
    const partial = fs.statSync(part).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(vaeWeights.length);

    requests.length = 0;
    const seen: number[] = [];
    const paths = await download('vae-ema', { cacheDir, mirror: base, onProgress: (p) => seen.push(p.received) });
    expect(paths).toEqual([path.join(dir, 'config.json'), weights]);
    expect(requests).toEqual([{ url: WEIGHTS_URL, range: `bytes=${partial}-` }]);
    expect(fs.readFileSync(weights).equals(vaeWeights)).toBe(true);
    expect(fs.readFileSync(paths[0]!).equals(vaeConfig)).toBe(true);
    expect(fs.existsSync(part)).toBe(false);
    expect(seen.at(-1)).toBe(vaeWeights.length);
  });

  it('says the .part is kept and the same command resumes when the connection breaks', async () => {
    const { cacheDir, part } = freshCache();
    next = { kind: 'drop', after: 4096 };
    const err = await download('vae-ema', { cacheDir, mirror: base }).catch((e: Error) => e);
    expect((err as Error).message).toContain(`the partial file ${part} is kept: run the same command again to resume`);
    expect((err as Error).message).not.toContain('--mirror');
  });

  it('refuses an HTML page or random bytes in place of the weights, and deletes them', async () => {
    for (const body of [Buffer.from('<!doctype html><title>Sign in</title>'), Buffer.alloc(vaeWeights.length, 0x5a)]) {
      const { cacheDir, weights, part } = freshCache();
      next = { kind: 'body', body };
      await expect(download('vae-ema', { cacheDir, mirror: base })).rejects.toThrow(
        /^the file downloaded from .+ is not the official diffusion_pytorch_model\.safetensors \(.+\); it was deleted: check what --mirror serves$/,
      );
      expect(fs.existsSync(weights)).toBe(false);
      expect(fs.existsSync(part)).toBe(false);
    }
  });

  it.each([
    ['SiT-XL-2-256', SIT_URL, 'SiT-XL-2-256x256.pt'],
    ['REPA-SiT-XL-2-256', REPA_URL, 'REPA-SiT-XL-2-256x256.pt'],
  ])('%s comes from the official URL and is checked by its shapes: a file that is no XL/2 is deleted', async (name, url, file) => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-dl-'));
    requests.length = 0;
    await expect(download(name, { cacheDir, mirror: base })).rejects.toThrow(
      new RegExp(`^the file downloaded from .+ is not the official ${file.replace(/\./g, '\\.')} \\([\\s\\S]+\\); it was deleted: check what --mirror serves$`),
    );
    expect(requests.map((r) => r.url)).toEqual([url]);
    // Nothing is left: the file was deleted and the models folder this call created removed with it.
    expect(fs.readdirSync(cacheDir)).toEqual([]);
  });

  it('does not install a body shorter than its Content-Length', async () => {
    const { cacheDir, weights, part } = freshCache();
    next = { kind: 'short', claimed: vaeWeights.length, sent: 10_000 };
    await expect(download('vae-ema', { cacheDir, mirror: base })).rejects.toThrow(`at 10000 of ${vaeWeights.length} bytes`);
    expect(fs.existsSync(weights)).toBe(false);
    expect(fs.statSync(part).size).toBe(10_000);
  });

  it('starts over when a resumed answer comes from another offset than asked (Content-Range)', async () => {
    const { cacheDir, weights } = freshCache();
    next = { kind: 'drop', after: 100_000 };
    await expect(download('vae-ema', { cacheDir, mirror: base })).rejects.toThrow('broke off');
    next = { kind: 'wrong-range' };
    requests.length = 0;
    await download('vae-ema', { cacheDir, mirror: base });
    expect(requests.map((r) => r.range)).toEqual(['bytes=100000-', undefined]);
    expect(fs.readFileSync(weights).equals(vaeWeights)).toBe(true);
  });

  it('gives up on a stalled connection after stallSeconds', async () => {
    const { cacheDir, part } = freshCache();
    next = { kind: 'stall', after: 50_000 };
    const t0 = performance.now();
    await expect(download('vae-ema', { cacheDir, mirror: base, stallSeconds: 0.5 })).rejects.toThrow('(nothing arrived for 0.5 s)');
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(fs.statSync(part).size).toBe(50_000);
  });

  it('a failure leaves no empty folder behind (the library call, not only the CLI)', async () => {
    const cacheDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dit-dl-empty-')), 'cache');
    // Nothing listens on port 1 of the loopback: the connection is refused at once.
    await expect(download('vae-ema', { cacheDir, mirror: 'http://127.0.0.1:1/' })).rejects.toThrow(/run the same command again/);
    expect(fs.existsSync(cacheDir)).toBe(false);
  });

  it('fetches again a cached file that is not what it must be', async () => {
    const { cacheDir, dir, weights } = freshCache();
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'config.json'), vaeConfig);
    fs.writeFileSync(weights, '<html>not weights</html>');
    requests.length = 0;
    await download('vae-ema', { cacheDir, mirror: base });
    expect(requests.map((r) => r.url)).toEqual([WEIGHTS_URL]);
    expect(fs.readFileSync(weights).equals(vaeWeights)).toBe(true);
  });

  it('names the allowed downloads for an unknown one, and reports HTTP errors', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-dl-'));
    await expect(download('DiT-XL-2-1024', { cacheDir, mirror: base })).rejects.toThrow(
      'unknown download "DiT-XL-2-1024": must be one of DiT-XL-2-256, DiT-XL-2-512, SiT-XL-2-256, REPA-SiT-XL-2-256, vae-ema, vae-mse, inception',
    );
    await expect(download('DiT-XL-2-256', { cacheDir, mirror: base })).rejects.toThrow('HTTP 404');
    expect(fs.readdirSync(cacheDir)).toEqual([]);
  });
});
