/**
 * The page's default WASM thread count (runtime/web.ts defaultWasmThreads): every logical core up
 * to 4 when the page is cross-origin isolated, where onnxruntime-web's own min(4, ceil(cores / 2))
 * gave a 2-core machine one thread (30.3 s against 20.1 s for the embedded model's default grid).
 */
import { describe, expect, it } from 'vitest';
import { defaultWasmThreads } from '../../src/runtime/web.js';

describe('defaultWasmThreads', () => {
  it('uses every logical core up to 4 in an isolated page', () => {
    expect([1, 2, 3, 4, 6, 8, 16].map((n) => defaultWasmThreads(n, true))).toEqual([1, 2, 3, 4, 4, 4, 4]);
  });
  it('gives one thread without isolation (no SharedArrayBuffer) or without a core count', () => {
    expect(defaultWasmThreads(8, false)).toBe(1);
    expect(defaultWasmThreads(undefined, true)).toBe(1);
    expect(defaultWasmThreads(0, true)).toBe(1);
  });
});
