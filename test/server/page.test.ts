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

  it("shows the server's message next to the control it concerns, naming the control by its label", async () => {
    await page.fill('#steps', '0');
    await page.click('#generate');
    const error = page.locator('#error-numSamplingSteps');
    await expect.poll(() => error.textContent()).not.toBe('');
    // The API's message for the same value, with the flag read as the control's label.
    const api = await postGenerate(base, { numSamplingSteps: 0 });
    expect(api.error!.error).toMatch(/^--num-sampling-steps 0 /);
    expect(await error.textContent()).toBe(api.error!.error.replace('--num-sampling-steps', 'Sampling steps'));
    expect(await page.getAttribute('#steps', 'aria-invalid')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('steps');
    expect(await page.locator('#error-general').textContent()).toBe('');

    await page.fill('#steps', '4');
    await page.fill('#seed', 'abc');
    await page.click('#generate');
    const seedApi = (await postGenerate(base, { seed: 'abc' })).error!.error;
    await expect.poll(() => page.locator('#error-seed').textContent()).toBe(seedApi.replace(/^--seed /, 'Seed '));
    expect(await page.locator('#error-seed').textContent()).toMatch(/^Seed "abc" /);
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
    // Nothing to download while sampling, nor after a cancel: the link is not shown at all.
    expect(await page.locator('.run a.download').isVisible()).toBe(false);
    await page.click('#cancel');
    await expect.poll(() => page.locator('.run .status').textContent()).toBe('Cancelled (cancelled by request)');
    expect(await page.locator('.run a.download').isVisible()).toBe(false);
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
    expect(await page.locator('.run a.download').isVisible()).toBe(false);
    expect(await other.locator('.run a.download').isVisible()).toBe(false);
    await other.close(); // the tab's stream closes: the server cancels its job and runs ours
    await page.locator('.run img.final').waitFor();
    expect(await page.locator('.run .status').textContent()).toMatch(/^Done: 2 steps in /);
    expect(await page.locator('.run a.download').isVisible()).toBe(true);
    expect(app.queue.pending).toBe(0);
  });

  for (const width of [360, 1280]) {
    it(`at ${width} px: says what the model is, shows this server's limits, warns past the CFG slider, hides Download until done`, async () => {
      const p = await browser.newPage({ viewport: { width, height: 780 } });
      await p.goto(base);
      await p.waitForSelector('body[data-ready="true"]');
      expect(await p.locator('#model').textContent()).toBe('Fashion-MNIST DiT (embedded, 9.8 M parameters)');
      expect(await p.locator('#model-details').textContent()).toBe(`10 classes · 32×32 images · ${app.info.model}`);
      expect(await p.locator('#images-hint').textContent()).toBe(`1..${app.info.limits.maxImages} on this server.`);
      expect(app.info.limits.maxImages).toBe(64);

      await p.fill('#num-images', '300');
      await p.click('#generate');
      await expect.poll(() => p.locator('#error-numImages').textContent()).toBe(
        '300 images were asked for: this server allows at most 64 per request; lower the number of images',
      );
      await p.fill('#num-images', '2');

      const notice = p.locator('#cfg-notice');
      expect(await notice.isVisible()).toBe(false);
      await p.fill('#cfg', '11');
      expect(await notice.isVisible()).toBe(true);
      expect(await notice.textContent()).toBe(
        "11 is beyond the notebook's range (1..10); it runs, but strong guidance tends to give oversaturated, less varied images.",
      );
      await p.screenshot({ path: path.join(outDir, `page-notice-${width}.png`), fullPage: true });
      await p.fill('#steps', '30');
      await p.click('#generate'); // allowed: it runs
      await expect.poll(() => p.locator('.run .status').textContent()).toMatch(/^Step \d+\/30 · /);
      expect(await p.locator('.run figcaption').textContent()).toMatch(/^CFG 11 · /);
      expect(await p.locator('.run a.download').isVisible()).toBe(false);
      await p.locator('.run img.final').waitFor();
      expect(await p.locator('.run a.download').isVisible()).toBe(true);
      await p.fill('#cfg', '10');
      expect(await notice.isVisible()).toBe(false);
      await p.close();
    });
  }

  it('fits a 360 px wide phone screen, with progress and result on screen under the button', async () => {
    const phone = await browser.newPage({ viewport: { width: 360, height: 780 } });
    await phone.goto(base);
    await phone.waitForSelector('body[data-ready="true"]');
    await phone.fill('#steps', '200');
    await phone.click('#generate');
    // While it runs: button and progress bar both on screen, the bar a short way under the button.
    await expect.poll(() => phone.locator('.run .status').textContent()).toMatch(/^Step \d+\/200 · /);
    const onScreen = async (selector: string) => {
      const b = (await phone.locator(selector).boundingBox())!; // relative to the viewport
      return { top: b.y, bottom: b.y + b.height, inside: b.y >= 0 && b.y + b.height <= 780 };
    };
    const button = await onScreen('#generate');
    const bar = await onScreen('.run progress');
    expect([button.inside, bar.inside]).toEqual([true, true]);
    expect(bar.top - button.bottom).toBeLessThan(300);
    await phone.click('#cancel');
    await expect.poll(() => phone.locator('.run .status').textContent()).toBe('Cancelled (cancelled by request)');

    await phone.fill('#steps', '4');
    await phone.click('#generate');
    await phone.locator('.run img.final').waitFor();
    await phone.screenshot({ path: path.join(outDir, 'page-360-screen.png') }); // what the phone shows
    expect((await onScreen('.run img.final')).inside).toBe(true);
    expect((await onScreen('#generate')).inside).toBe(true);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    const box = await phone.locator('#generate').boundingBox();
    expect(box!.x + box!.width).toBeLessThanOrEqual(360);
    await phone.screenshot({ path: path.join(outDir, 'page-360.png'), fullPage: true });
    await phone.close();
  });
});
