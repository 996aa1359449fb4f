// The page of `dit serve`: built into dist/web (shipped in the package) by `npm run build:web`.
// `npx vite web` serves it with hot reload, forwarding /api to a `dit serve` on port 7860.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:7860' },
  },
});
