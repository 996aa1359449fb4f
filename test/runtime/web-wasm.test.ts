/**
 * The page's WASM from its gzip copy (runtime/web.ts wasmFromGzipCopy): inflated with the standard
 * DecompressionStream (Node has it too), taken as it is where the host already inflated it, and
 * refused — so the page falls back to the plain .wasm — when it is neither; and when the page
 * takes the copy (fetchWasmFromGzipCopy) or leaves the plain .wasm to onnxruntime-web.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { fetchWasmFromGzipCopy, wasmFromGzipCopy } from '../../src/runtime/web.js';

const ortWasm = fs.readFileSync(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
const bytes = (b: Buffer) => new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);

describe('wasmFromGzipCopy', () => {
  it('inflates the gzip copy of onnxruntime-web\'s WASM to its bytes', async () => {
    const out = await wasmFromGzipCopy(bytes(zlib.gzipSync(ortWasm, { level: 9 })));
    expect(out.byteLength).toBe(ortWasm.length);
    expect(Buffer.from(out.buffer, out.byteOffset, out.byteLength).equals(ortWasm)).toBe(true);
  });

  it('takes the bytes as they are when the host sent the copy with Content-Encoding: gzip (the browser inflated it)', async () => {
    const raw = bytes(Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    expect(await wasmFromGzipCopy(raw)).toBe(raw);
  });

  it('refuses what is neither: a host\'s HTML page for a missing file, a gzip of something else, a truncated copy', async () => {
    await expect(wasmFromGzipCopy(bytes(Buffer.from('<!doctype html><title>404</title>')))).rejects.toThrow(
      'a gzip copy of a WASM file starts with 1f 8b, but this one starts with 3c 21 64 6f',
    );
    await expect(wasmFromGzipCopy(bytes(zlib.gzipSync('not webassembly')))).rejects.toThrow('a gzip copy of a WASM file inflates to something that is not WebAssembly');
    const gz = zlib.gzipSync(ortWasm.subarray(0, 1 << 16));
    await expect(wasmFromGzipCopy(bytes(gz.subarray(0, gz.length >> 1)))).rejects.toThrow();
  });

  it('stops inflating past maxBytes (a gzip bomb costs bounded memory)', async () => {
    const bomb = zlib.gzipSync(Buffer.concat([Buffer.from([0, 0x61, 0x73, 0x6d]), Buffer.alloc(1 << 20)]));
    expect(bomb.length).toBeLessThan(2048);
    await expect(wasmFromGzipCopy(bytes(bomb), 1 << 19)).rejects.toThrow(`a gzip copy of a WASM file inflates to more than ${1 << 19} bytes`);
    expect((await wasmFromGzipCopy(bytes(bomb), (1 << 20) + 4)).byteLength).toBe((1 << 20) + 4);
  });
});

describe('fetchWasmFromGzipCopy', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });
  const gz = zlib.gzipSync(ortWasm, { level: 9 });
  /** A fetch that answers every URL with `status` and `body`, and remembers what was asked. */
  const host = (status: number, body: Uint8Array) => {
    const asked: string[] = [];
    const fetchFile = (async (url: string) => (asked.push(url), new Response(status === 200 ? new Uint8Array(body) : null, { status }))) as unknown as typeof fetch;
    return { asked, fetchFile };
  };

  it('inflates the copy the host sends', async () => {
    const { asked, fetchFile } = host(200, gz);
    const out = await fetchWasmFromGzipCopy('http://site/assets/ort.wasm.gz', fetchFile);
    expect(Buffer.from(out!).equals(ortWasm)).toBe(true);
    expect(asked).toEqual(['http://site/assets/ort.wasm.gz']);
  });

  it('leaves the plain .wasm to onnxruntime-web: without DecompressionStream (fetching nothing), on an error status, on a host\'s HTML page', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const missing = host(404, new Uint8Array());
    expect(await fetchWasmFromGzipCopy('http://site/a.wasm.gz', missing.fetchFile)).toBeUndefined();
    expect(missing.asked).toHaveLength(1);
    expect(warn).not.toHaveBeenCalled();
    const html = host(200, new TextEncoder().encode('<!doctype html><title>Not found</title>'));
    expect(await fetchWasmFromGzipCopy('http://site/a.wasm.gz', html.fetchFile)).toBeUndefined();
    expect(warn).toHaveBeenCalledWith('http://site/a.wasm.gz: a gzip copy of a WASM file starts with 1f 8b, but this one starts with 3c 21 64 6f; loading the plain .wasm instead');
    vi.stubGlobal('DecompressionStream', undefined);
    const old = host(200, gz);
    expect(await fetchWasmFromGzipCopy('http://site/a.wasm.gz', old.fetchFile)).toBeUndefined();
    expect(old.asked).toEqual([]);
  });
});
