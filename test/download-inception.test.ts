/** `dit download inception`: pytorch-fid's release file, checked by its tensors before the rename. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { download } from '../src/download.js';
import { INCEPTION_WEIGHTS_FILE } from '../src/model-files.js';
import { inceptionStateDictKeys } from '../src/models/inception.js';
import { writeSafetensors } from './helpers/checkpoint-writers.js';

const URL_PATH = '/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth';

/** The FID Inception's required tensors as fp16 zeros (44 MB); `change` alters one shape. */
function weightsFile(change?: { name: string; shape: number[] }): Buffer {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dit-dl-inc-')), 'w.safetensors');
  const entries = inceptionStateDictKeys()
    .filter((k) => !k.optional)
    .map((k) => {
      const shape = change?.name === k.name ? change.shape : [...k.shape];
      return { name: k.name, dtype: 'F16' as const, shape, data: () => new Uint16Array(shape.reduce((a, b) => a * b, 1)) };
    });
  writeSafetensors(f, entries);
  const bytes = fs.readFileSync(f);
  fs.rmSync(path.dirname(f), { recursive: true });
  return bytes;
}

let server: http.Server;
let base = '';
let body: Buffer = Buffer.alloc(0);

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url !== URL_PATH) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('dit download inception', () => {
  it("fetches pytorch-fid's release path into the cache and keeps it when every tensor fits", async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-dl-'));
    body = weightsFile();
    expect(await download('inception', { cacheDir, mirror: base })).toEqual([path.join(cacheDir, INCEPTION_WEIGHTS_FILE)]);
    expect(fs.readFileSync(path.join(cacheDir, INCEPTION_WEIGHTS_FILE)).equals(body)).toBe(true);
  }, 60_000);

  it('refuses and deletes a file whose tensors are not the FID Inception\'s', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-dl-'));
    body = weightsFile({ name: 'Mixed_7c.branch_pool.conv.weight', shape: [192, 2048, 3, 3] });
    await expect(download('inception', { cacheDir, mirror: base })).rejects.toThrow(
      /^the file downloaded from .+ is not the official pt_inception-2015-12-05-6726825d\.pth \(tensor "Mixed_7c\.branch_pool\.conv\.weight" has shape \[192, 2048, 3, 3\], the FID Inception's is \[192, 2048, 1, 1\]\); it was deleted/,
    );
    // Nothing is left: the file was deleted and the models folder this call created removed with it.
    expect(fs.readdirSync(cacheDir)).toEqual([]);
  }, 60_000);
});
