/** `dit serve --browser`: the static site, files only, cross-origin isolated (no model loaded). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createSiteServer, CROSS_ORIGIN_ISOLATION, type SiteServer } from '../../src/server/app.js';
import { runCli } from '../helpers/run-cli.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-site-server-'));
let app: SiteServer;
let base: string;

beforeAll(async () => {
  fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>site</title>');
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

  it('refuses flags that choose a model, since the page computes', async () => {
    const r = await runCli(['serve', '--browser', '--ckpt', 'x.pt', '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "dit: dit serve --browser: --ckpt chooses what this process computes with, but with --browser the page computes (it opens checkpoints from the browser's files); drop --ckpt or drop --browser\n",
    );
  });
});
