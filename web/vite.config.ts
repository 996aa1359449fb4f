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
import { ISOLATION_WORKER_FILE } from './src/isolation/files.js';

/** The files of the site that the installed package also has (site-files.ts: left out of the npm package). */
const SOURCE_CANDIDATES = [
  ...['', '.asyncify', '.jsep', '.jspi'].map((variant) => `onnxruntime-web/ort-wasm-simd-threaded${variant}.wasm`),
  './assets/fashion-mnist/model.safetensors',
];

/** The site's service worker (src/isolation/sw.ts): a second entry, written unhashed beside index.html. */
const ISOLATION_ENTRY = 'isolation-sw';

/**
 * A service worker registered as a classic script may not import or export: fails the build when
 * the bundler split anything out of the worker's entry (a module it shares with the page).
 */
function classicServiceWorker(): Plugin {
  return {
    name: 'dit-classic-service-worker',
    apply: 'build',
    generateBundle(_options, bundle) {
      const chunk = Object.values(bundle).find((c) => c.type === 'chunk' && c.name === ISOLATION_ENTRY);
      if (!chunk || chunk.type !== 'chunk') throw new Error(`the site has no ${ISOLATION_WORKER_FILE}`);
      const links = [...chunk.imports, ...chunk.dynamicImports, ...chunk.exports];
      if (links.length > 0) throw new Error(`${ISOLATION_WORKER_FILE} must be a classic script, but it imports or exports ${links.join(', ')}: keep what it shares with the page out of it`);
    },
  };
}

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
        ...(site
          ? {
              input: { index: fileURLToPath(new URL('index.html', import.meta.url)), [ISOLATION_ENTRY]: fileURLToPath(new URL('src/isolation/sw.ts', import.meta.url)) },
              output: { entryFileNames: (chunk: { name: string }) => (chunk.name === ISOLATION_ENTRY ? ISOLATION_WORKER_FILE : 'assets/[name]-[hash].js') },
            }
          : {}),
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
    plugins: site ? [classicServiceWorker(), siteFiles()] : [],
    worker: { format: 'es' as const },
    server: {
      proxy: { '/api': 'http://127.0.0.1:7860' },
    },
  };
});
