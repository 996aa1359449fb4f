/**
 * The in-browser site, measured in headless Chromium (Debian's, through playwright-core) from a
 * local static file server: the embedded model at its defaults (8 images, 100 DDPM steps, CFG 4).
 * For each back end: first paint, model ready, first preview, final grid (from navigation start,
 * weights and WASM downloads included), and the bytes the page fetched: as files (what a plain
 * static server sends; ORT's WASM is fetched as its `.wasm.gz` copy, runtime/web.ts provideOrtWasm),
 * as this server sent them (the site's `.br` copies where the server sends them, as `dit serve
 * --browser`, nginx brotli_static or Caddy do to a browser that accepts br), and as the `.gz`
 * copies (a host that only gzips).
 * Baseline in the same run: `dit sample`'s pipeline in this process, one thread and ONNX Runtime's
 * default, and the default with `--dtype q8`.
 *
 *   npm run build:site && npx tsx bench/site.ts [--steps 100] [--webgpu-steps N] [--site dist/site] [--webgpu no] [--rounds 1] [--node no] [--page-threads N]
 *                                              [--payload-only yes] [--payload-steps 1] [--mbps N]
 *
 * Rows, on WASM: from a server that sends no COOP/COEP headers (GitHub Pages, a plain static
 * server) wasm-1 without the isolation worker's file (404: the page as it was before it, one
 * thread) and wasm-sw, a first visit (the page registers web/src/isolation/sw.ts and reloads once,
 * then runs isolated: threads; times from the first navigation's start, so the reload is counted)
 * and a later visit in the same profile (wasm-sw-again: isolated from the start); then wasm-mt from
 * a server that sends the headers (`dit serve --browser`), with `?threads=N` and with `?dtype=q8`
 * (wasm-mt-q8: int8 linears). Then webgpu (--enable-unsafe-webgpu;
 * headless Chromium offers its SwiftShader Vulkan adapter on a machine without a GPU), when Chromium
 * shows an adapter. `--rounds N` repeats the WASM rows, interleaved, on a busy machine.
 *
 * Payload rows (isolated server, WASM, `--payload-steps` steps: the model-ready time is what they
 * are for): ORT's WASM fetched as its gzip copy and inflated in the page (the site now) against
 * the plain `.wasm` (the site before it: the server answers 404 for `.wasm.gz`, so the page falls
 * back, and ORT compiles the file while it streams in), each from a server that sends the `.br`
 * copies (`dit serve --browser`, nginx brotli_static) and from one that sends every file as it is
 * (`python3 -m http.server`), interleaved. `--mbps N` throttles those pages' network to N Mbit/s
 * (Chromium's DevTools emulation, 20 ms latency); `--payload-only yes` runs only them. Each is
 * followed by a later visit in the same profile (`again`: the HTTP cache, V8's code cache).
 */
import http from 'node:http';
import fs from 'node:fs';
import { cpus } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { serveStatic } from '../src/server/static.js';
import { CROSS_ORIGIN_ISOLATION } from '../src/server/isolation.js';
import { ISOLATION_WORKER_FILE } from '../web/src/isolation/files.js';
import { createPipeline } from '../src/pipeline.js';
import { arg } from './args.js';

const site = path.resolve(arg('--site', 'dist/site'));
const steps = Number(arg('--steps', '100'));
/** WebGPU on a CPU fallback adapter is slow: its row may use fewer steps. */
const webgpuSteps = Number(arg('--webgpu-steps', String(steps)));
const webgpu = arg('--webgpu', 'yes') !== 'no';
const rounds = Number(arg('--rounds', '1'));
/** The `?threads=N` row's N (default: every core this machine reports). */
const pageThreads = Number(arg('--page-threads', String(cpus().length)));
const payloadOnly = arg('--payload-only', 'no') === 'yes';
const payloadSteps = Number(arg('--payload-steps', '1'));
/** Throttles the payload rows' pages to this many Mbit/s (0: loopback's speed). */
const mbps = Number(arg('--mbps', '0'));
if (!fs.existsSync(path.join(site, 'index.html'))) throw new Error(`no site in ${site}: run npm run build:site`);

const BASE_ARGS = ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=native', '--use-angle=vulkan', '--ignore-gpu-blocklist'];

interface ServeOptions {
  /** `br`: sends the site's `.br`/`.gz` copies as the browser accepts (dit serve --browser, nginx brotli_static); `none`: every file as it is (python3 -m http.server). */
  readonly encoding?: 'br' | 'none';
  /** false: answers 404 for the WASM's `.wasm.gz` copy, so the page loads the plain `.wasm` (the site before it fetched the copy). */
  readonly gzipWasm?: boolean;
}

/**
 * A static server of the site: `isolated` sends COOP/COEP (as `dit serve --browser`), `plain` sends
 * none (GitHub Pages), `no-worker` none and no isolation worker either (the site before it).
 */
async function serve(kind: 'isolated' | 'plain' | 'no-worker', opts: ServeOptions = {}): Promise<{ url: string; close: () => void }> {
  const server = http.createServer((req, res) => {
    if (kind === 'isolated') for (const [k, v] of Object.entries(CROSS_ORIGIN_ISOLATION)) res.setHeader(k, v);
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    const refused = (kind === 'no-worker' && req.url === `/${ISOLATION_WORKER_FILE}`) || (opts.gzipWasm === false && pathname.endsWith('.wasm.gz'));
    if (refused || !serveStatic(site, pathname, res, { acceptEncoding: opts.encoding === 'none' ? undefined : req.headers['accept-encoding'] })) {
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
  /** Times the page reloaded itself (the isolation worker's first visit: 1). */
  reloads: number;
  firstPaintMs: number;
  readyMs: number;
  firstPreviewMs: number;
  doneMs: number;
  /** The fetched files' sizes (what a plain static server sends). */
  fetchedBytes: number;
  /** What the server sent for them (Content-Length: the .br copy where the server sends it and the browser accepts br). */
  sentBytes: number;
  /** Their .gz copies' sizes (the file's where it has none). */
  fetchedGzipBytes: number;
}

/**
 * Runs in every document of the page, before its scripts: remembers the first navigation's start
 * (sessionStorage outlives a reload in the tab) and when the page first shows a preview, is ready
 * and ends its run, as milliseconds since that start. A string: tsx would wrap a function's inner
 * functions in a helper the page lacks.
 */
const PAGE_CLOCK = `(() => {
  const firstOrigin = Number(sessionStorage.getItem('bench-origin') ?? performance.timeOrigin);
  sessionStorage.setItem('bench-origin', String(firstOrigin));
  sessionStorage.setItem('bench-documents', String(Number(sessionStorage.getItem('bench-documents') ?? 0) + 1));
  const since = (t) => performance.timeOrigin + t - firstOrigin;
  const b = (window.bench = { offset: since(0) });
  new MutationObserver(() => {
    if (b.firstPreview === undefined && document.querySelector('.run img.preview, #result')) b.firstPreview = since(performance.now());
    if (b.ready === undefined && document.body?.dataset.ready === 'true') b.ready = since(performance.now());
    if (b.done === undefined && /^(done|failed|refused)$/.test(document.body?.dataset.state ?? '')) b.done = since(performance.now());
  }).observe(document, { subtree: true, childList: true, attributes: true });
})();`;

async function measure(context: BrowserContext, url: string, name: string, query: string, steps: number, throttleMbps = 0): Promise<Row | string> {
  const page = await context.newPage();
  if (throttleMbps > 0) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: (throttleMbps * 1e6) / 8, uploadThroughput: (throttleMbps * 1e6) / 8 });
  }
  const fetched = new Map<string, number>();
  page.on('response', (r) => {
    const pathname = decodeURIComponent(new URL(r.url()).pathname);
    const file = path.join(site, pathname === '/' ? 'index.html' : pathname);
    if (r.ok() && fs.existsSync(file) && fs.statSync(file).isFile()) fetched.set(file, Number(r.headers()['content-length']));
  });
  await page.addInitScript(PAGE_CLOCK);
  try {
    await page.goto(`${url}?${query}&steps=${steps}&run=1`);
    await page.waitForSelector('body[data-state="done"], body[data-state="failed"], body[data-state="refused"]', { timeout: 600_000 });
    const r = await page.evaluate(() => {
      const b = (window as unknown as { bench: { offset: number; firstPreview?: number; ready?: number; done?: number } }).bench;
      return {
        state: document.body.dataset.state,
        doneMs: b.done ?? NaN,
        readyMs: b.ready ?? NaN,
        firstPreviewMs: b.firstPreview ?? NaN,
        firstPaintMs: b.offset + (performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint')?.startTime ?? NaN),
        reloads: Number(sessionStorage.getItem('bench-documents')) - 1,
        where: document.getElementById('model-details')?.textContent?.split(' · ').at(-1) ?? '',
        status: document.querySelector('.run .status')?.textContent ?? '',
      };
    });
    if (r.state !== 'done') return `${name}: ${r.state} (${r.status})`;
    const size = (file: string) => fs.statSync(fs.existsSync(file) ? file : file.replace(/\.gz$/, '')).size;
    const sum = (f: (file: string, sent: number) => number) => [...fetched].reduce((a, [file, sent]) => a + f(file, sent), 0);
    return {
      backend: name,
      steps,
      where: r.where,
      reloads: r.reloads,
      firstPaintMs: r.firstPaintMs,
      readyMs: r.readyMs,
      firstPreviewMs: r.firstPreviewMs,
      doneMs: r.doneMs,
      fetchedBytes: sum((file) => size(file)),
      sentBytes: sum((_, sent) => sent),
      fetchedGzipBytes: sum((file) => size(`${file}.gz`)),
    };
  } finally {
    await page.close();
  }
}

/** What WebGPU adapter the browser offers a page (navigator.gpu exists only in secure contexts, such as http://127.0.0.1). */
async function webgpuAdapter(browser: Browser): Promise<string> {
  const server = await serve('plain');
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

// Baseline: the same run in Node (`dit sample`'s pipeline), model load excluded (`--node no`: skipped).
for (const [threads, dtype] of arg('--node', 'yes') === 'no' || payloadOnly ? [] : ([[1, 'fp32'], [undefined, 'fp32'], [undefined, 'q8']] as const)) {
  const p = await createPipeline({ threads, dtype });
  const t0 = performance.now();
  await p.generate({ numSamplingSteps: steps });
  notes.push(`node, ${threads ?? 'default'} thread(s), ${dtype}: ${((performance.now() - t0) / 1000).toFixed(1)} s for ${steps} steps (model loaded beforehand)`);
  await p.dispose();
}

const cpu = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...BASE_ARGS, '--disable-gpu'] });
{
  // Warm-up, not reported: the browser's first page pays for starting its processes.
  const server = await serve('isolated');
  const context = await cpu.newContext();
  await measure(context, server.url, 'warm-up', 'backend=wasm', 1);
  await context.close();
  server.close();
}
const plain = await serve('plain');
const without = await serve('no-worker');
const isolated = await serve('isolated');
/** The payload rows: how the WASM comes (its gzip copy, or the plain file as before) × how the server encodes. */
const payloadServers = await Promise.all(
  (['br', 'none'] as const).flatMap((encoding) => [true, false].map(async (gzipWasm) => ({ name: `payload, ${encoding === 'br' ? 'br server' : 'plain server'}, ${gzipWasm ? '.wasm.gz' : '.wasm (before)'}`, ...(await serve('isolated', { encoding, gzipWasm })) }))),
);
const payloadRows = payloadServers.map((server) => async () => {
  const context = await cpu.newContext();
  const name = `${server.name}${mbps > 0 ? `, ${mbps} Mbit/s` : ''}`;
  report(await measure(context, server.url, name, 'backend=wasm', payloadSteps, mbps));
  // A later visit, same profile: the files from the HTTP cache, and V8's code cache where it applies.
  report(await measure(context, server.url, `${name}, again`, 'backend=wasm', payloadSteps, mbps));
  await context.close();
});
/** One measurement each, in a fresh profile (a context: no service worker registered yet). */
const wasmRows: (() => Promise<void>)[] = payloadOnly ? payloadRows : [
  ...payloadRows,
  async () => {
    const before = await cpu.newContext();
    report(await measure(before, without.url, 'wasm-1', 'backend=wasm', steps));
    await before.close();
  },
  async () => {
    const visitor = await cpu.newContext();
    report(await measure(visitor, plain.url, 'wasm-sw', 'backend=wasm', steps));
    report(await measure(visitor, plain.url, 'wasm-sw-again', 'backend=wasm', steps));
    await visitor.close();
  },
  async () => {
    const served = await cpu.newContext();
    report(await measure(served, isolated.url, 'wasm-mt', 'backend=wasm', steps));
    // onnxruntime-web's own choice is min(4, ceil(cores / 2)) threads: one on a 2-core machine.
    report(await measure(served, isolated.url, `wasm-mt-${pageThreads}`, `backend=wasm&threads=${pageThreads}`, steps));
    // int8 linears (`?dtype=q8`, as `dit sample --dtype q8`): ONNX Runtime quantizes activations per call.
    report(await measure(served, isolated.url, 'wasm-mt-q8', 'backend=wasm&dtype=q8', steps));
    await served.close();
  },
];
// Every other round in reverse order, so that a machine getting busier or quieter favours none.
for (let round = 0; round < rounds; round++) for (const row of round % 2 === 0 ? wasmRows : [...wasmRows].reverse()) await row();
plain.close();
without.close();
isolated.close();
for (const server of payloadServers) server.close();
await cpu.close();

if (webgpu && !payloadOnly) {
  const gpu = await chromium.launch({ executablePath: '/usr/bin/chromium', args: [...BASE_ARGS, ...WEBGPU_ARGS] });
  const adapter = await webgpuAdapter(gpu);
  notes.push(`WebGPU: ${adapter}`);
  if (adapter.startsWith('adapter')) {
    const server = await serve('isolated');
    const context = await gpu.newContext();
    report(await measure(context, server.url, 'webgpu', 'backend=webgpu', webgpuSteps));
    await context.close();
    server.close();
  }
  await gpu.close();
}

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
console.log('embedded model, 8 images, DDPM, CFG 4; times from the first navigation\'s start (a reload included)');
console.log('| back end | steps | reloads | first paint | model ready | first preview | grid done | fetched: files | sent | as .gz |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.backend} (${r.where}) | ${r.steps} | ${r.reloads} | ${s(r.firstPaintMs)} | ${s(r.readyMs)} | ${s(r.firstPreviewMs)} | ${s(r.doneMs)} | ${mb(r.fetchedBytes)} | ${mb(r.sentBytes)} | ${mb(r.fetchedGzipBytes)} |`);
for (const n of notes) console.log(`- ${n}`);
console.log(JSON.stringify({ bench: 'site', rows, notes }));
