// The page, built two ways from one codebase (web/src):
// - `npm run build:web`  → dist/web: the front end of `dit serve`, which computes on the server;
// - `npm run build:site` (`--mode site`) → dist/site: a static site that computes in the browser
//   (onnxruntime-web's WASM files and the embedded model inside), for any static file server,
//   GitHub Pages, or `dit serve --browser`. Relative URLs, so it works from any sub-path.
// `npx vite web` serves the server page with hot reload, forwarding /api to a `dit serve` on port 7860.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { precompressFolder, recordSiteSources } from '../src/server/site-files.js';

/** The files of the site that the installed package also has (site-files.ts: left out of the npm package). */
const SOURCE_CANDIDATES = [
  ...['', '.asyncify', '.jsep', '.jspi'].map((variant) => `onnxruntime-web/ort-wasm-simd-threaded${variant}.wasm`),
  './assets/fashion-mnist/model.safetensors',
];

/** After the site is written: site-sources.json, then `.br`/`.gz` copies beside each file. */
function siteFiles(): Plugin {
  let outDir = '';
  return {
    name: 'dit-site-files',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    async closeBundle() {
      recordSiteSources(outDir, SOURCE_CANDIDATES);
      await precompressFolder(outDir);
    },
  };
}

export default defineConfig(({ mode }) => {
  const site = mode === 'site';
  return {
    root: fileURLToPath(new URL('.', import.meta.url)),
    base: site ? './' : '/',
    build: {
      outDir: fileURLToPath(new URL(site ? '../dist/site' : '../dist/web', import.meta.url)),
      emptyOutDir: true,
      target: 'es2022',
      // The model's weights and config are fetched by the worker as files, never inlined.
      assetsInlineLimit: 0,
      chunkSizeWarningLimit: 2048,
      rollupOptions: {
        // src/ files on the page's path (checkpoint/file.ts, graph/save.ts, classes.ts...) import
        // node:fs, node:path or node:zlib for their Node-only functions (reading by path, saving, the cache, the .npz writer),
        // which the page never calls: it gives ByteSources and builds models in memory. Vite replaces
        // those imports with empty modules; that is expected, so it is not reported on every build.
        onwarn(warning, warn) {
          // The site's closeBundle (hashing and precompressing ~50 MB, 10–30 s) is expected to be slow.
          if (warning.code === 'PLUGIN_TIMINGS') return;
          if (/Module "node:(fs|path|zlib)" has been externalized for browser compatibility, imported by "[^"]*\/src\//.test(warning.message)) return;
          warn(warning);
        },
      },
    },
    plugins: site ? [siteFiles()] : [],
    worker: { format: 'es' as const },
    server: {
      proxy: { '/api': 'http://127.0.0.1:7860' },
    },
  };
});
