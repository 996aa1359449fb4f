/**
 * The in-browser site, measured in headless Chromium (Debian's, through playwright-core) from a
 * local static file server: the embedded model at its defaults (8 images, 100 DDPM steps, CFG 4).
 * For each back end: first paint, model ready, first preview, final grid (from navigation start,
 * weights and WASM downloads included), and the bytes the page fetched: as files (raw), as this
 * server sent them (the site's `.br` copies, as `dit serve --browser`, nginx brotli_static or Caddy
 * send them to a browser that accepts br), and as the `.gz` copies (a host that only gzips).
 * Baseline in the same run: `dit sample`'s pipeline in this process, one thread and ONNX Runtime's default.
 *
 *   npm run build:site && npx tsx bench/site.ts [--steps 100] [--webgpu-steps N] [--site dist/site] [--webgpu no]
 *
 * Rows: wasm-1 (no cross-origin isolation: one thread), wasm-mt (COOP/COEP: threads), webgpu
 * (--enable-unsafe-webgpu; headless Chromium offers its SwiftShader Vulkan adapter on a machine
 * without a GPU), when Chromium shows an adapter.
 */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { serveStatic } from '../src/server/static.js';
import { CROSS_ORIGIN_ISOLATION } from '../src/server/isolation.js';
import { createPipeline } from '../src/pipeline.js';
import { arg } from './args.js';

const site = path.resolve(arg('--site', 'dist/site'));
const steps = Number(arg('--steps', '100'));
/** WebGPU on a CPU fallback adapter is slow: its row may use fewer steps. */
const webgpuSteps = Number(arg('--webgpu-steps', String(steps)));
const webgpu = arg('--webgpu', 'yes') !== 'no';
if (!fs.existsSync(path.join(site, 'index.html'))) throw new Error(`no site in ${site}: run npm run build:site`);

const BASE_ARGS = ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=native', '--use-angle=vulkan', '--ignore-gpu-blocklist'];

async function serve(isolated: boolean): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((req, res) => {
    if (isolated) for (const [k, v] of Object.entries(CROSS_ORIGIN_ISOLATION)) res.setHeader(k, v);
    if (!serveStatic(site, new URL(req.url ?? '/', 'http://x').pathname, res, { acceptEncoding: req.headers['accept-encoding'] })) {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, close: () => server.close() };
}

interface Row {
  backend: string;
  steps: number;
  where: string;
  firstPaintMs: number;
  readyMs: number;
  firstPreviewMs: number;
  doneMs: number;
  /** The fetched files' sizes. */
  fetchedBytes: number;
  /** What the server sent for them (Content-Length: the .br copy where the browser accepts br). */
  sentBytes: number;
  /** Their .gz copies' sizes (the file's where it has none). */
  fetchedGzipBytes: number;
}

async function measure(browser: Browser, name: string, isolated: boolean, query: string, steps: number): Promise<Row | string> {
  const server = await serve(isolated);
  const page = await browser.newPage();
  const fetched = new Map<string, number>();
  page.on('response', (r) => {
    const pathname = decodeURIComponent(new URL(r.url()).pathname);
    const file = path.join(site, pathname === '/' ? 'index.html' : pathname);
    if (r.ok() && fs.existsSync(file) && fs.statSync(file).isFile()) fetched.set(file, Number(r.headers()['content-length']));
  });
  try {
    await page.goto(`${server.url}?${query}&steps=${steps}&run=1`);
    await page.evaluate(() => {
      const w = window as unknown as { firstPreview?: number };
      new MutationObserver(() => {
        if (w.firstPreview === undefined && document.querySelector('.run img.preview, #result')) w.firstPreview = performance.now();
      }).observe(document.body, { subtree: true, childList: true, attributes: true });
    });
    await page.waitForSelector('body[data-ready="true"]', { timeout: 300_000 });
    const readyMs = await page.evaluate(() => performance.now());
    await page.waitForSelector('body[data-state="done"], body[data-state="failed"], body[data-state="refused"]', { timeout: 600_000 });
    const r = await page.evaluate(() => ({
      state: document.body.dataset.state,
      doneMs: performance.now(),
      firstPreviewMs: (window as unknown as { firstPreview?: number }).firstPreview ?? NaN,
      firstPaintMs: performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint')?.startTime ?? NaN,
      where: document.getElementById('model-details')?.textContent?.split(' · ').at(-1) ?? '',
      status: document.querySelector('.run .status')?.textContent ?? '',
    }));
    if (r.state !== 'done') return `${name}: ${r.state} (${r.status})`;
    const size = (file: string) => fs.statSync(fs.existsSync(file) ? file : file.replace(/\.gz$/, '')).size;
    const sum = (f: (file: string, sent: number) => number) => [...fetched].reduce((a, [file, sent]) => a + f(file, sent), 0);
    return {
      backend: name,
      steps,
      where: r.where,
      firstPaintMs: r.firstPaintMs,
      readyMs,
      firstPreviewMs: r.firstPreviewMs,
      doneMs: r.doneMs,
      fetchedBytes: sum((file) => size(file)),
      sentBytes: sum((_, sent) => sent),
      fetchedGzipBytes: sum((file) => size(`${file}.gz`)),
    };
  } finally {
    await page.close();
    server.close();
  }
}

/** What WebGPU adapter the browser offers a page (navigator.gpu exists only in secure contexts, such as http://127.0.0.1). */
async function webgpuAdapter(browser: Browser): Promise<string> {
  const server = await serve(false);
  const page = await browser.newPage();
  try {
    await page.goto(server.url);
    return await page.evaluate(async () => {
      const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<{ info?: { vendor: string; architecture: string; description: string } } | null> } }).gpu;
      if (!gpu) return 'no navigator.gpu';
      const a = await gpu.requestAdapter();
      return a ? `adapter ${JSON.stringify({ vendor: a.info?.vendor, architecture: a.info?.architecture, description: a.info?.description })}` : 'navigator.gpu but no adapter';
    });
  } finally {
    await page.close();
    server.close();
  }
}

const rows: Row[] = [];
const notes: string[] = [];

/** Keeps a row (printed at once, so a long run that is stopped still shows what it measured). */
function report(r: Row | string): void {
  if (typeof r === 'string') notes.push(r);
  else rows.push(r);
  console.error(`measured: ${JSON.stringify(r)}`);
}

// Baseline: the same run in Node (`dit sample`'s pipeline), model load excluded.
for (const threads of [1, undefined]) {
  const p = await createPipeline({ threads });
  const t0 = performance.now();
  await p.generate({ numSamplingSteps: steps });
  notes.push(`node, ${threads ?? 'default'} thread(s): ${((performance.now() - t0) / 1000).toFixed(1)} s for ${steps} steps (model loaded beforehand)`);
  await p.dispose();
}

const cpu = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...BASE_ARGS, '--disable-gpu'] });
for (const [name, isolated] of [['wasm-1', false], ['wasm-mt', true]] as const) {
  report(await measure(cpu, name, isolated, 'backend=wasm', steps));
}
await cpu.close();

if (webgpu) {
  const gpu = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...BASE_ARGS, ...WEBGPU_ARGS] });
  const adapter = await webgpuAdapter(gpu);
  notes.push(`WebGPU: ${adapter}`);
  if (adapter.startsWith('adapter')) {
    report(await measure(gpu, 'webgpu', true, 'backend=webgpu', webgpuSteps));
  }
  await gpu.close();
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
console.log('embedded model, 8 images, DDPM, CFG 4; times from navigation start');
console.log('| back end | steps | first paint | model ready | first preview | grid done | fetched: files | sent (br) | as .gz |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.backend} (${r.where}) | ${r.steps} | ${s(r.firstPaintMs)} | ${s(r.readyMs)} | ${s(r.firstPreviewMs)} | ${s(r.doneMs)} | ${mb(r.fetchedBytes)} | ${mb(r.sentBytes)} | ${mb(r.fetchedGzipBytes)} |`);
for (const n of notes) console.log(`- ${n}`);
console.log(JSON.stringify({ bench: 'site', rows, notes }));
