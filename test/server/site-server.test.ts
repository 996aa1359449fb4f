/** `dit serve --browser`: the static site, files only, cross-origin isolated (no model loaded). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import { createSiteServer, type SiteServer } from '../../src/server/app.js';
import { CROSS_ORIGIN_ISOLATION } from '../../src/server/isolation.js';
import { runCli } from '../helpers/run-cli.js';
import { SITE_SOURCES_FILE } from '../../src/server/site-files.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-site-server-'));
let app: SiteServer;
let base: string;

beforeAll(async () => {
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>site</title>');
  fs.writeFileSync(path.join(root, 'index.html.br'), zlib.brotliCompressSync('<!doctype html><title>site</title>'));
  fs.writeFileSync(path.join(root, 'index.html.gz'), zlib.gzipSync('<!doctype html><title>site</title>'));
  fs.mkdirSync(path.join(root, 'assets'));
  fs.writeFileSync(path.join(root, 'assets', 'ort.wasm'), new Uint8Array([0, 0x61, 0x73, 0x6d]));
  app = createSiteServer({ siteRoot: root });
  base = await app.listen(0, '127.0.0.1');
});

afterAll(async () => {
  await app?.close();
  fs.rmSync(root, { recursive: true, force: true });
});

describe('dit serve --browser', () => {
  it('sends the page and its WASM cross-origin isolated, so onnxruntime-web may use threads', async () => {
    const page = await fetch(base);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe('<!doctype html><title>site</title>');
    for (const [name, value] of Object.entries(CROSS_ORIGIN_ISOLATION)) expect(page.headers.get(name)).toBe(value);
    const wasm = await fetch(`${base}assets/ort.wasm`);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    expect(wasm.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
    expect(new Uint8Array(await wasm.arrayBuffer())).toEqual(new Uint8Array([0, 0x61, 0x73, 0x6d]));
  });

  it('only sends files: no API, no other methods, nothing outside the site', async () => {
    const api = await fetch(`${base}api/info`);
    expect(api.status).toBe(404);
    const post = await fetch(base, { method: 'POST', body: '{}' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    expect((await fetch(`${base}..%2f..%2fetc%2fpasswd`)).status).toBe(404);
  });

  it('sends a precompressed copy when the request accepts its encoding, with Vary; the file itself otherwise', async () => {
    const html = fs.readFileSync(path.join(root, 'index.html'));
    const get = (acceptEncoding: string) => new Promise<{ headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      http.get(base, { headers: { 'Accept-Encoding': acceptEncoding } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ headers: res.headers, body: Buffer.concat(chunks) })).on('error', reject);
      });
    });
    const br = await get('gzip, deflate, br');
    expect([br.headers['content-encoding'], br.headers['content-type'], br.headers.vary, Number(br.headers['content-length'])]).toEqual(['br', 'text/html; charset=utf-8', 'Accept-Encoding', br.body.length]);
    expect(zlib.brotliDecompressSync(br.body)).toEqual(html);
    const gz = await get('gzip;q=1, br;q=0');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(zlib.gunzipSync(gz.body)).toEqual(html);
    const plain = await get('identity');
    expect([plain.headers['content-encoding'], plain.headers.vary]).toEqual([undefined, 'Accept-Encoding']);
    expect(plain.body).toEqual(html);
    // No copies of the WASM here: sent as it is, whatever is accepted.
    const wasm = await fetch(`${base}assets/ort.wasm`, { headers: { 'Accept-Encoding': 'br' } });
    expect([wasm.headers.get('content-encoding'), wasm.headers.get('vary')]).toEqual([null, null]);
  });

  it('sends the files an installed package leaves out from the package\'s own copies, checked against site-sources.json', async () => {
    const siteRoot = path.join(root, 'installed');
    fs.mkdirSync(siteRoot);
    fs.writeFileSync(path.join(siteRoot, 'index.html'), '<!doctype html>');
    const sourceOf = (from: string) => (from.startsWith('./') ? path.join(repoRoot, from) : createRequire(import.meta.url).resolve(from));
    const entry = (from: string) => {
      const bytes = fs.readFileSync(sourceOf(from));
      return { from, bytes: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex') };
    };
    const sources = { 'assets/model-X.safetensors': entry('./assets/fashion-mnist/model.safetensors'), 'assets/ort-X.wasm': entry('onnxruntime-web/ort-wasm-simd-threaded.wasm') };
    fs.writeFileSync(path.join(siteRoot, SITE_SOURCES_FILE), JSON.stringify(sources));
    const installed = createSiteServer({ siteRoot });
    const url = await installed.listen(0, '127.0.0.1');
    try {
      for (const [relative, source] of Object.entries(sources)) {
        const res = await fetch(`${url}${relative}`);
        expect(res.status).toBe(200);
        expect(Buffer.from(await res.arrayBuffer()).equals(fs.readFileSync(sourceOf(source.from)))).toBe(true);
        // Its .gz copy (the page fetches the WASM's as a file of its own), made here: a gzip of the same bytes, sent without Content-Encoding.
        for (let i = 0; i < 2; i++) {
          const gz = await fetch(`${url}${relative}.gz`, { headers: { 'Accept-Encoding': 'br, gzip' } });
          expect([gz.status, gz.headers.get('content-encoding'), gz.headers.get('content-type'), gz.headers.get('cache-control')]).toEqual([200, null, 'application/octet-stream', 'public, max-age=31536000, immutable']);
          const body = Buffer.from(await gz.arrayBuffer());
          expect(Number(gz.headers.get('content-length'))).toBe(body.length);
          expect(zlib.gunzipSync(body).equals(fs.readFileSync(sourceOf(source.from)))).toBe(true);
        }
      }
      expect((await fetch(`${url}index.html.gz`)).status).toBe(404); // only fallback files get a made copy
      expect((await fetch(`${url}assets/other.wasm.gz`)).status).toBe(404);
    } finally {
      await installed.close();
    }
    // Another onnxruntime-web than the site was built with: refused before serving anything.
    fs.writeFileSync(path.join(siteRoot, SITE_SOURCES_FILE), JSON.stringify({ 'assets/ort-X.wasm': { ...sources['assets/ort-X.wasm'], sha256: '0'.repeat(64) } }));
    expect(() => createSiteServer({ siteRoot })).toThrow(
      `the site in ${siteRoot} was built with other bytes of onnxruntime-web/ort-wasm-simd-threaded.wasm than ${sourceOf('onnxruntime-web/ort-wasm-simd-threaded.wasm')} holds (another onnxruntime-web version?); reinstall dit-ts (npm install) or rebuild the site (npm run build:site)`,
    );
  });

  it('refuses flags that choose a model, since the page computes', async () => {
    const r = await runCli(['serve', '--browser', '--ckpt', 'x.pt', '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "dit: dit serve --browser: --ckpt chooses what this process computes with, but with --browser the page computes (it opens checkpoints from the browser's files); drop --ckpt or drop --browser\n",
    );
  });
});
