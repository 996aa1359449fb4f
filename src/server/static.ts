/**
 * The built page (web/ → dist/web by `npm run build:web`), served from disk. Only files inside the
 * web root are reachable; Vite's hashed files under assets/ are cached for good, index.html never.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerResponse } from 'node:http';

// src/server/ and dist/server/ both sit two levels below the package root.
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where `npm run build` puts the page; shipped in the package. */
export const DEFAULT_WEB_ROOT = path.join(packageRoot, 'dist', 'web');

/** Where `npm run build:site` puts the page that computes in the browser (`dit serve --browser`). */
export const DEFAULT_SITE_ROOT = path.join(packageRoot, 'dist', 'site');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  // The in-browser site (dist/site): onnxruntime-web compiles .wasm while it streams in only when
  // it is served as application/wasm; the model's weights are bytes.
  '.wasm': 'application/wasm',
  '.safetensors': 'application/octet-stream',
};

/** Serves `urlPath` from `root`; returns false when no such file exists (the caller sends 404). */
export function serveStatic(root: string, urlPath: string, res: ServerResponse): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return false;
  }
  const relative = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  const file = path.resolve(root, relative);
  if (file !== root && !file.startsWith(root + path.sep)) return false; // "..", absolute paths
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return false;
  }
  if (!stat.isFile()) return false;
  const immutable = relative.startsWith('assets/');
  res.writeHead(200, {
    'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
    'Content-Length': stat.size,
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  fs.createReadStream(file).pipe(res);
  return true;
}

/** Whether the page has been built into `root`. */
export function pageBuilt(root: string): boolean {
  return fs.existsSync(path.join(root, 'index.html'));
}
