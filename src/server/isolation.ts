/**
 * The response headers that make a page cross-origin isolated (`crossOriginIsolated`), so it may
 * use SharedArrayBuffer and onnxruntime-web runs its WASM on several threads. `dit serve --browser`
 * sends them (app.ts); on hosts that do not (GitHub Pages, a plain static server) the site's
 * service worker adds them (web/src/isolation/sw.ts). Browser-safe: the page bundles this file.
 * `require-corp` is enough because the site loads nothing from other origins.
 */
export const CROSS_ORIGIN_ISOLATION: Readonly<Record<'Cross-Origin-Opener-Policy' | 'Cross-Origin-Embedder-Policy', string>> = Object.freeze({
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
});
