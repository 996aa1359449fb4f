/**
 * The page end to end: headless Chromium (Debian's, through playwright-core) drives the built page
 * against `dit serve` on the embedded Fashion-MNIST model. The page is built fresh from web/ into
 * test-output/, where the screenshots go too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import type { Pipeline } from '../../src/pipeline.js';
import { createWorkerPipeline } from '../../src/server/pipeline-proxy.js';
import { createDitServer, type DitServer } from '../../src/server/app.js';
import { postGenerate } from './client.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = path.join(repoRoot, 'test-output', 'server');
const webRoot = path.join(outDir, 'web');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

let pipeline: Pipeline;
let app: DitServer;
let base: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  fs.mkdirSync(outDir, { recursive: true });
  await build({ configFile: path.join(repoRoot, 'web', 'vite.config.ts'), logLevel: 'warn', build: { outDir: webRoot, emptyOutDir: true } });
  // One ONNX Runtime thread: its spinning workers would otherwise starve Chromium on a 2-core machine.
  pipeline = await createWorkerPipeline({ threads: 1 }); // as `dit serve` runs it
  app = createDitServer({ pipeline, webRoot });
  base = await app.listen(0, '127.0.0.1');
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('body[data-ready="true"]');
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await pipeline?.dispose();
});

/** Records every status line and preview the run panels show, to see progress advance. */
async function recordProgress(p: Page): Promise<void> {
  await p.evaluate(() => {
    const w = window as unknown as { seen: { status: string[]; previews: number } };
    w.seen = { status: [], previews: 0 };
    new MutationObserver(() => {
      for (const s of Array.from(document.querySelectorAll('.run .status'))) {
        const text = s.textContent ?? '';
        if (w.seen.status.at(-1) !== text) w.seen.status.push(text);
      }
      if (document.querySelector('.run img.preview')) w.seen.previews++;
    }).observe(document.getElementById('runs')!, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

async function seenProgress(p: Page): Promise<{ status: string[]; previews: number }> {
  return p.evaluate(() => (window as unknown as { seen: { status: string[]; previews: number } }).seen);
}

async function clearClasses(p: Page): Promise<void> {
  await p.focus('#class-search');
  while ((await p.locator('#class-chips li').count()) > 0) await p.keyboard.press('Backspace');
}

describe('dit serve page on the embedded model', () => {
  it('sets class, seed, steps and CFG, shows progress, shows and downloads the image', async () => {
    await clearClasses(page);
    await page.fill('#class-search', '3'); // an id finds its class
    await expect.poll(() => page.locator('#class-options [role=option]').allTextContents()).toEqual(['Dress (3)']);
    // The steps limit comes from /api/info only.
    expect([await page.getAttribute('#steps', 'max'), await page.getAttribute('#steps-range', 'max')]).toEqual(['1000', '1000']);
    await page.fill('#class-search', 'sneak');
    await expect.poll(() => page.locator('#class-options [role=option]').allTextContents()).toEqual(['Sneaker (7) · trainer']);
    await page.keyboard.press('Enter');
    expect(await page.locator('#class-chips').textContent()).toBe('Sneaker (7) ✕');
    await page.fill('#num-images', '2');
    await page.fill('#seed', '5');
    await page.fill('#steps', '8');
    await page.fill('#cfg', '3.5');
    expect(await page.inputValue('#cfg-range')).toBe('3.5'); // the slider follows the box

    await recordProgress(page);
    await page.click('#generate');
    const image = page.locator('.run img.final');
    await image.waitFor();
    const seen = await seenProgress(page);
    const steps = seen.status.map((s) => /^Step (\d+)\/8 · /.exec(s)?.[1]).filter((s): s is string => s !== undefined).map(Number);
    expect(steps.length).toBeGreaterThanOrEqual(2);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(seen.previews).toBeGreaterThan(0);
    expect(await page.locator('.run .status').textContent()).toMatch(/^Done: 8 steps in \d+\.\d s$/);

    // The page sent exactly these settings: the server's PNG equals a direct library run.
    const direct = await pipeline.generate({ classLabels: [7], numImages: 2, seed: 5, numSamplingSteps: 8, cfgScale: 3.5 });
    const size = await image.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight]);
    expect(size).toEqual([direct.grid!.width, direct.grid!.height]);

    const [download] = await Promise.all([page.waitForEvent('download'), page.click('.run a.download')]);
    expect(download.suggestedFilename()).toBe('dit-seed5-cfg3.5-8steps.png');
    const saved = path.join(outDir, 'download.png');
    await download.saveAs(saved);
    expect(Buffer.compare(fs.readFileSync(saved), Buffer.from(direct.png!))).toBe(0);

    await page.screenshot({ path: path.join(outDir, 'page-1280.png'), fullPage: true });
  });

  it('restores a run from history, also after a reload', async () => {
    await page.fill('#seed', '99');
    await page.fill('#steps', '3');
    await clearClasses(page);
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    const item = page.locator('#history .history-item').first();
    expect(await item.textContent()).toMatch(new RegExp(`^CFG 3\\.5 · seed 5 · 8 steps · ${app.info.defaults.sampler.replace(/\+/g, '\\+')} · Sneaker, 2 images`));
    await item.click();
    expect(await page.inputValue('#seed')).toBe('5');
    expect(await page.inputValue('#steps')).toBe('8');
    expect(await page.inputValue('#steps-range')).toBe('8');
    expect(await page.inputValue('#cfg')).toBe('3.5');
    expect(await page.inputValue('#num-images')).toBe('2');
    expect(await page.locator('#class-chips').textContent()).toBe('Sneaker (7) ✕');
    const restored = page.locator('.run.restored img.final');
    await restored.waitFor();
    expect(await restored.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth > 0)).toBe(true);
  });

  it("shows the server's message next to the control it concerns", async () => {
    await page.fill('#steps', '0');
    await page.click('#generate');
    const error = page.locator('#error-numSamplingSteps');
    await expect.poll(() => error.textContent()).not.toBe('');
    // The very message the API gives for the same value.
    const api = await postGenerate(base, { numSamplingSteps: 0 });
    expect(await error.textContent()).toBe(api.error!.error);
    expect(await page.getAttribute('#steps', 'aria-invalid')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('steps');
    expect(await page.locator('#error-general').textContent()).toBe('');

    await page.fill('#steps', '4');
    await page.fill('#seed', '1.5');
    await page.click('#generate');
    await expect.poll(() => page.locator('#error-seed').textContent()).toBe((await postGenerate(base, { seed: '1.5' })).error!.error);
    expect(await page.locator('#error-numSamplingSteps').textContent()).toBe(''); // the old error is gone
    await page.fill('#seed', '5');
  });

  it('runs by keyboard alone: class picked with arrows and Enter, run started with Enter', async () => {
    await clearClasses(page);
    await page.keyboard.type('o'); // many classes contain "o"
    await page.keyboard.press('ArrowDown');
    const active = await page.getAttribute('#class-search', 'aria-activedescendant');
    expect(active).toBe('class-option-1'); // the second match: Trouser
    await page.keyboard.press('Enter');
    expect(await page.locator('#class-chips').textContent()).toBe('Trouser (1) ✕');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('seed');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('seed-random');
    await page.keyboard.press('Enter');
    expect(await page.inputValue('#seed')).toMatch(/^\d+$/);
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('steps');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('3');
    await page.keyboard.press('Enter'); // submits the form
    await page.locator('.run img.final').waitFor();
    expect(await page.locator('.run figcaption').textContent()).toMatch(/^CFG 3\.5 · seed \d+ · 3 steps · Trouser, 2 images$/);
  });

  it('compares CFG 1, 5 and 10 on one seed side by side', async () => {
    await page.fill('#steps', '4');
    await page.click('#compare');
    await expect.poll(() => page.locator('.run img.final').count(), { timeout: 60_000 }).toBe(3);
    const captions = await page.locator('.run figcaption').allTextContents();
    expect(captions.map((c) => c.split(' · ').slice(0, 3).join(' · '))).toEqual([
      `CFG 1 · seed ${await page.inputValue('#seed')} · 4 steps`,
      `CFG 5 · seed ${await page.inputValue('#seed')} · 4 steps`,
      `CFG 10 · seed ${await page.inputValue('#seed')} · 4 steps`,
    ]);
    // Side by side at 1280 px: the three panels share one row.
    const tops = await page.locator('.run').evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().top)));
    expect(new Set(tops).size).toBe(1);
    expect(await page.locator('#history .history-item').first().textContent()).toMatch(/^Compare CFG 1 · 5 · 10 · /);
    await page.screenshot({ path: path.join(outDir, 'page-compare-1280.png'), fullPage: true });
  });

  it('cancels a long run from the Cancel button', async () => {
    await page.fill('#steps', '1000');
    await page.click('#generate');
    await expect.poll(() => page.locator('.run .status').textContent()).toMatch(/^Step \d+\/1000 · /);
    expect(await page.isEnabled('#generate')).toBe(false);
    await page.click('#cancel');
    await expect.poll(() => page.locator('.run .status').textContent()).toBe('Cancelled (cancelled by request)');
    expect(await page.isEnabled('#generate')).toBe(true);
    expect(app.queue.pending).toBe(0);
    expect(await page.locator('.run img.final').count()).toBe(0);
  });

  it('shows the queue position behind another tab, which cancels its run by closing', async () => {
    const other = await context.newPage();
    await other.goto(base);
    await other.waitForSelector('body[data-ready="true"]');
    await other.fill('#steps', '1000');
    await other.click('#generate');
    await expect.poll(() => other.locator('.run .status').textContent()).toMatch(/^Step \d+\/1000 · /);

    await page.fill('#steps', '2');
    await page.click('#generate');
    await expect.poll(() => page.locator('.run .status').textContent()).toBe('Queued: position 1 (1 job ahead)');
    await other.close(); // the tab's stream closes: the server cancels its job and runs ours
    await page.locator('.run img.final').waitFor();
    expect(await page.locator('.run .status').textContent()).toMatch(/^Done: 2 steps in /);
    expect(app.queue.pending).toBe(0);
  });

  it('fits a 360 px wide phone screen', async () => {
    const phone = await browser.newPage({ viewport: { width: 360, height: 780 } });
    await phone.goto(base);
    await phone.waitForSelector('body[data-ready="true"]');
    await phone.fill('#steps', '4');
    await phone.click('#generate');
    await phone.locator('.run img.final').waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    const box = await phone.locator('#generate').boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(360);
    await phone.screenshot({ path: path.join(outDir, 'page-360.png'), fullPage: true });
    await phone.close();
  });
});
