import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SERVER_DEFAULTS, createDitServer, type DitServer } from '../../src/server/app.js';
import { DitError, UsageError } from '../../src/errors.js';
import { decodePng } from '../../src/image/png.js';
import { makeGrid } from '../../src/image/grid.js';
import { MAX_SAMPLING_STEPS } from '../../src/options.js';
import { createFakePipeline, fakeImages, FAKE_SIZE, type FakePipeline } from './fake-pipeline.js';
import { postGenerate, request } from './client.js';

let fake: FakePipeline;
let app: DitServer;
let base: string;
let webRoot: string;
let logged: string[];

beforeEach(async () => {
  fake = createFakePipeline();
  webRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-web-'));
  fs.mkdirSync(path.join(webRoot, 'assets'));
  fs.writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>t</title>');
  fs.writeFileSync(path.join(webRoot, 'assets', 'app-1234.js'), 'console.log(1)');
  logged = [];
  app = createDitServer({ pipeline: fake.pipeline, webRoot, maxImages: 16, maxQueue: 3, maxBodyBytes: 1024, log: (l) => logged.push(l) });
  base = await app.listen(0, '127.0.0.1');
});

afterEach(async () => {
  fake.release();
  await app.close();
  fs.rmSync(webRoot, { recursive: true, force: true });
});

describe('createDitServer settings', () => {
  it('fills in the server defaults', () => {
    const server = createDitServer({ pipeline: fake.pipeline, webRoot });
    expect(server.info.limits).toEqual({ maxSamplingSteps: 1000, maxImages: 64, maxQueue: 8, maxBodyBytes: 16384 });
    expect(SERVER_DEFAULTS).toMatchObject({ maxImages: 64, maxQueue: 8, maxBodyBytes: 16384 });
  });

  it('treats an out-of-range limit as a bug in the caller (dit serve checks its flags), not a usage error', () => {
    const create = (limits: { maxImages?: number; maxQueue?: number }) => () => createDitServer({ pipeline: fake.pipeline, webRoot, ...limits });
    expect(create({ maxImages: 257 })).toThrow(new Error('createDitServer: maxImages 257 is not an integer in 1..256'));
    expect(create({ maxQueue: 0 })).toThrow(new Error('createDitServer: maxQueue 0 is not an integer ≥ 1'));
    try {
      create({ maxImages: 0 })();
      expect.unreachable();
    } catch (err) {
      expect(err).not.toBeInstanceOf(DitError);
    }
  });

  it('refuses a latent model loaded without a VAE as a usage error (--vae none)', () => {
    const info = { ...fake.pipeline.info, config: { ...fake.pipeline.info.config, in_channels: 4 }, makesImages: false };
    const create = () => createDitServer({ pipeline: { ...fake.pipeline, info }, webRoot });
    expect(create).toThrow(UsageError);
    expect(create).toThrow('dit serve shows images, but this 4-channel latent model was loaded without a VAE; drop --vae none (or pass --vae ema|mse|PATH)');
  });
});

describe('GET /api/info and /api/classes', () => {
  it('reports the model, the resolved defaults and the limits', async () => {
    const res = await request(`${base}api/info`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      // The fake's config is DiT-S/8's with 8×8 one-channel inputs and ten classes.
      title: 'DiT-S/8 8×8 (33 M parameters)',
      parameterCount: 32_540_672,
      model: 'fake 8×8 test model',
      imageSize: FAKE_SIZE,
      numClasses: 10,
      defaults: { labels: [0, 1, 2, 3], cfgScale: 4, numSamplingSteps: 6, sampler: 'ddpm', guidance: 'all', seed: '0', samplesPerRow: 2 },
      limits: { maxSamplingSteps: MAX_SAMPLING_STEPS, maxImages: 16, maxQueue: 3, maxBodyBytes: 1024 },
      samplers: ['ddpm', 'ddim', 'dpm-solver++'],
    });
  });

  it('searches class names, synonyms and ids', async () => {
    expect((await request(`${base}api/classes`)).body).toHaveLength(10);
    expect((await request(`${base}api/classes?q=boot`)).body).toEqual([{ id: 9, name: 'Ankle boot', synonyms: ['boot'] }]);
    expect((await request(`${base}api/classes?q=trainer`)).body.map((c: { id: number }) => c.id)).toEqual([7]);
    expect((await request(`${base}api/classes?q=3`)).body.map((c: { name: string }) => c.name)).toEqual(['Dress']);
  });
});

describe('POST /api/generate validation', () => {
  it.each([
    [{ numSamplingSteps: 0 }, 'numSamplingSteps', /^--num-sampling-steps 0 is out of range: must be an integer in 1\.\.1000/],
    [{ numSamplingSteps: 1001 }, 'numSamplingSteps', /^--num-sampling-steps 1001 is out of range: must be an integer in 1\.\.1000/],
    [{ cfgScale: 'lots' }, 'cfgScale', /^--cfg-scale "lots" is not a number: must be a number in 0\.\.100/],
    [{ sampler: 'euler' }, 'sampler', /^--sampler "euler" is not supported: must be one of ddpm, ddim, dpm-solver\+\+, sit-ode-dopri5, sit-ode-euler, sit-ode-heun, sit-sde-euler, sit-sde-heun, repa-sde, repa-ode-euler, repa-ode-heun$/],
    [{ sampler: 'repa-sde' }, 'sampler', /^--sampler repa-sde is a REPA sampler, and this is a DiT model; pass --sampler ddpm\|ddim\|dpm-solver\+\+ or leave --sampler out/],
    [{ classLabels: [3, 12] }, 'classLabels', /^--class-labels 12 is out of range: must be an integer in 0\.\.9 \(this model has 10 classes\)$/],
    [{ classes: ['sneakr'] }, 'classes', /^unknown class name "sneakr" for Fashion-MNIST/],
    [{ seed: 'abc' }, 'seed', /^--seed "abc" is not a valid seed/],
    [{ guidanceInterval: '700,100' }, 'guidanceInterval', /^--guidance-interval "700,100" is not valid/],
    [{ numImages: 17 }, 'numImages', /^17 images were asked for: this server allows at most 16 per request/],
    // Above the library's MAX_IMAGES too: this server's cap, not the library's range.
    [{ numImages: 300 }, 'numImages', /^300 images were asked for: this server allows at most 16 per request; lower the number of images$/],
    [{ numImages: '300' }, 'numImages', /^300 images were asked for: this server allows at most 16 per request/],
  ])('%j → 400 naming %s', async (body, field, message) => {
    const res = await postGenerate(base, body);
    expect(res.status).toBe(400);
    expect(res.error?.field).toBe(field);
    expect(res.error?.error).toMatch(message);
    expect(fake.runs).toHaveLength(0); // nothing ran
  });

  it('refuses unknown keys, wrong value types, non-objects and non-JSON bodies', async () => {
    const json = { 'Content-Type': 'application/json' };
    const unknown = await request(`${base}api/generate`, { method: 'POST', headers: json, body: '{"steps": 10}' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toBe(
      'unknown option "steps": allowed are classLabels, classes, numImages, cfgScale, numSamplingSteps, sampler, guidance, guidanceInterval, spacing, eta, seed, samplesPerRow',
    );
    const typed = await request(`${base}api/generate`, { method: 'POST', headers: json, body: '{"cfgScale": {"x": 1}}' });
    expect(typed.body).toEqual({ error: 'option "cfgScale" is {"x":1}: must be a string or a number', field: 'cfgScale' });
    const array = await request(`${base}api/generate`, { method: 'POST', headers: json, body: '[1]' });
    expect(array.body.error).toBe('the request body must be a JSON object of options, got an array');
    const broken = await request(`${base}api/generate`, { method: 'POST', headers: json, body: '{"seed": ' });
    expect(broken.status).toBe(400);
    expect(broken.body.error).toMatch(/^the request body is not valid JSON/);
    const form = await request(`${base}api/generate`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}' });
    expect(form.status).toBe(415);
    expect(form.body.error).toBe('the request body must be JSON sent with Content-Type: application/json (got "text/plain")');
  });

  it('answers 413 with JSON to a body over the limit, declared or streamed', async () => {
    const big = JSON.stringify({ seed: '1'.repeat(2000) });
    const declared = await request(`${base}api/generate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(big) },
      body: big,
    });
    expect(declared.status).toBe(413);
    expect(declared.body).toEqual({ error: `the request body is ${Buffer.byteLength(big)} bytes, more than the 1024 bytes allowed; send only the options (a few hundred bytes)` });

    const chunked = await request(`${base}api/generate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' },
      body: big,
    });
    expect(chunked.status).toBe(413);
    expect(chunked.body.error).toBe('the request body is over 1024 bytes, more than the 1024 bytes allowed; send only the options (a few hundred bytes)');
    expect(fake.runs).toHaveLength(0);
  });
});

describe('POST /api/generate jobs', () => {
  it('streams queued → started → steps with ETA and previews → done, and serves the PNG', async () => {
    const job = await postGenerate(base, { classLabels: [9, 1], numSamplingSteps: 4, samplesPerRow: 2, seed: 3 });
    expect(job.status).toBe(200);
    const queued = await job.until('queued');
    expect(queued.position).toBe(0);
    expect(queued.options).toMatchObject({ labels: [9, 1], numSamplingSteps: 4, seed: '3' });
    const done = await job.until('done');
    await job.ended;

    const types = job.events.map((e) => e.type);
    expect(types).toEqual(['queued', 'started', 'phase', 'step', 'step', 'step', 'step', 'phase', 'done']);
    const steps = job.events.filter((e) => e.type === 'step');
    expect(steps.map((s) => [s.i, s.n])).toEqual([[1, 4], [2, 4], [3, 4], [4, 4]]);
    expect(steps[3]!.etaSeconds).toBe(0);
    expect(steps.every((s) => s.etaSeconds >= 0 && s.elapsedSeconds >= 0)).toBe(true);
    // 4 steps: a preview every step (about 20 per run at most); the last one is the predicted x0 itself.
    const last = decodePng(Buffer.from(steps[3]!.preview!.replace('data:image/png;base64,', ''), 'base64'));
    expect(last).toEqual(makeGrid(fakeImages([9, 1], 1), { samplesPerRow: 2 }));

    const png = await request(`${base}${done.resultUrl.slice(1)}`);
    expect(png.status).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.headers['content-disposition']).toBe('inline; filename="dit-seed3-cfg4-4steps.png"');
    const image = decodePng(png.raw);
    expect([image.width, image.height]).toEqual([done.width, done.height]);
    expect(image).toEqual(makeGrid(fakeImages([9, 1], 1), { samplesPerRow: 2 }));
    const download = await request(`${base}${done.resultUrl.slice(1)}?download`);
    expect(download.headers['content-disposition']).toBe('attachment; filename="dit-seed3-cfg4-4steps.png"');

    const status = await request(`${base}api/jobs/${done.id}`);
    expect(status.body).toMatchObject({ id: done.id, state: 'done', step: 4, steps: 4, resultUrl: done.resultUrl, error: null });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(new RegExp(`^job ${done.id.slice(0, 8)} \\(2 images, 4 steps, ddpm, CFG 4, seed 3\\): done in \\d+\\.\\d s \\(sampling \\d+\\.\\d s, decoding 0\\.0 s\\)$`));
  });

  it('runs one job at a time: the second reports position 1, then runs after the first', async () => {
    fake.hold();
    const first = await postGenerate(base, { numSamplingSteps: 3 });
    await first.until('started');
    const second = await postGenerate(base, { numSamplingSteps: 2, seed: 1 });
    const queued = await second.until('queued');
    expect(queued.position).toBe(1);
    const status = await request(`${base}api/jobs/${queued.id}`);
    expect(status.body).toMatchObject({ state: 'queued', position: 1 });
    expect(fake.runs).toHaveLength(1); // the second waits

    fake.release();
    await first.until('done');
    await second.until('done');
    expect(second.events.map((e) => e.type).slice(0, 2)).toEqual(['queued', 'started']);
    expect(fake.runs.map((r) => [r.options.seed, r.outcome])).toEqual([
      [undefined, 'done'],
      [1, 'done'],
    ]);
  });

  it('cancels a running job when its client disconnects, then runs the next', async () => {
    fake.hold();
    const first = await postGenerate(base, { numSamplingSteps: 50 });
    const { id } = await first.until('queued');
    await first.until('started');
    const second = await postGenerate(base, { numSamplingSteps: 2 });
    await second.until('queued');

    first.disconnect();
    await fake.reached(1, Infinity); // until the first run stops
    expect(fake.runs[0]!.outcome).toBe('aborted');
    expect(fake.runs[0]!.signal?.reason).toBe('the client disconnected');
    expect((await request(`${base}api/jobs/${id}`)).body.state).toBe('cancelled');
    expect(logged).toEqual([`job ${id.slice(0, 8)} (4 images, 50 steps, ddpm, CFG 4, seed 0): cancelled (the client disconnected)`]);

    fake.release();
    await second.until('done');
    expect(fake.runs.map((r) => r.outcome)).toEqual(['aborted', 'done']);
  });

  it('drops a queued job whose client disconnects, without running it', async () => {
    fake.hold();
    const first = await postGenerate(base, { numSamplingSteps: 2 });
    await first.until('started');
    const second = await postGenerate(base, { numSamplingSteps: 2, seed: 2 });
    const { id } = await second.until('queued');
    const third = await postGenerate(base, { numSamplingSteps: 2, seed: 3 });
    expect((await third.until('queued')).position).toBe(2);

    second.disconnect();
    // The third moves up as the second leaves.
    expect((await third.until('queued')).position).toBe(1);
    expect((await request(`${base}api/jobs/${id}`)).body.state).toBe('cancelled');
    fake.release();
    await third.until('done');
    expect(fake.runs.map((r) => r.options.seed)).toEqual([undefined, 3]);
  });

  it('cancels by DELETE and by POST …/cancel; the stream says so and ends', async () => {
    fake.hold();
    const running = await postGenerate(base, { numSamplingSteps: 5 });
    const a = await running.until('queued');
    await running.until('started');
    const waiting = await postGenerate(base, { numSamplingSteps: 5 });
    const b = await waiting.until('queued');

    const post = await request(`${base}api/jobs/${b.id}/cancel`, { method: 'POST' });
    expect(post.status).toBe(202);
    expect(post.body).toMatchObject({ id: b.id, state: 'cancelled' });
    expect(await waiting.until('cancelled')).toEqual({ type: 'cancelled', reason: 'cancelled by request' });
    await waiting.ended;

    const del = await request(`${base}api/jobs/${a.id}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    expect(await running.until('cancelled')).toEqual({ type: 'cancelled', reason: 'cancelled by request' });
    await running.ended;
    const again = await request(`${base}api/jobs/${a.id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe(`job ${a.id} is already cancelled; nothing to cancel`);
    expect(fake.runs).toHaveLength(1);
    const png = await request(`${base}api/jobs/${a.id}/result.png`);
    expect(png.status).toBe(409);
    expect(png.body.error).toBe(`job ${a.id} is cancelled; its image exists once it is done`);
  });

  it('answers 503 when the queue is full', async () => {
    fake.hold();
    const jobs = [];
    for (let k = 0; k < 3; k++) {
      jobs.push(await postGenerate(base, { numSamplingSteps: 2 }));
      await jobs[k]!.until('queued');
    }
    const refused = await postGenerate(base, { numSamplingSteps: 2 });
    expect(refused.status).toBe(503);
    expect(refused.error).toEqual({ error: 'the queue is full (3 jobs waiting or running, at most 3); try again when a job has finished' });
    fake.release();
    for (const j of jobs) await j.until('done');
  });
});

describe('routes and the page', () => {
  it('serves the built page and its assets, and nothing outside the web root', async () => {
    const index = await request(base);
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.raw.toString()).toBe('<!doctype html><title>t</title>');
    const asset = await request(`${base}assets/app-1234.js`);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.raw.toString()).toBe('console.log(1)');
    // A raw request line, since URL parsers in clients would normalise the "..".
    const escaped = await new Promise<number>((resolve) => {
      http.get({ host: '127.0.0.1', port: new URL(base).port, path: '/assets/../../../etc/passwd' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
    });
    expect(escaped).toBe(404);
  });

  it('answers unknown routes, jobs and methods with JSON errors', async () => {
    expect((await request(`${base}api/nope`)).body).toEqual({ error: 'no API route /api/nope; see /api/info' });
    const id = '00000000-0000-0000-0000-000000000000';
    expect((await request(`${base}api/jobs/${id}`)).status).toBe(404);
    const wrong = await request(`${base}api/generate`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers['allow']).toBe('POST');
    expect(wrong.body.error).toBe('GET /api/generate is not supported: use POST');
  });

  it('refuses requests naming another host while bound to loopback (DNS rebinding)', async () => {
    const port = new URL(base).port;
    const evil = await request(`${base}api/info`, { headers: { Host: `evil.example:${port}` } });
    expect(evil.status).toBe(403);
    expect(evil.body.error).toBe(`Host "evil.example:${port}" is not this server's name; open it as http://127.0.0.1:${port}/`);
    expect((await request(`${base}api/info`, { headers: { Host: `localhost:${port}` } })).status).toBe(200);
    expect((await request(`${base}api/info`, { headers: { Host: `[::1]:${port}` } })).status).toBe(200);
  });

  it('says how to build the page when it is missing', async () => {
    fs.rmSync(path.join(webRoot, 'index.html'));
    const res = await request(base);
    expect(res.status).toBe(500);
    expect(res.body.error).toBe(`the page is not built (no index.html in ${webRoot}); run \`npm run build\` in the dit-ts folder`);
  });
});
