/**
 * The built page (web/ → dist/web by `npm run build:web`), served from disk. Only files inside the
 * web root are reachable; Vite's hashed files under assets/ are cached for good, index.html never.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServerResponse } from 'node:http';
import { gzipCopy, PRECOMPRESSED } from './site-files.js';

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

export interface StaticOptions {
  /** The request's Accept-Encoding: a precompressed copy (`NAME.br`, `NAME.gz`) is sent when it allows one. */
  readonly acceptEncoding?: string;
  /** Files the folder lacks, by relative path, and where they are instead (site-files.ts siteFallbacks). */
  readonly fallbacks?: ReadonlyMap<string, string>;
}

/** The encodings an Accept-Encoding header allows (q > 0); `*` allows any. */
function accepted(header: string | undefined): (encoding: string) => boolean {
  const allowed = new Map<string, boolean>();
  for (const part of (header ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)).find(Boolean);
    allowed.set(name, q ? Number(q[1]) > 0 : true);
  }
  return (encoding) => allowed.get(encoding) ?? allowed.get('*') ?? false;
}

function fileStat(file: string): fs.Stats | undefined {
  try {
    const stat = fs.statSync(file);
    return stat.isFile() ? stat : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Serves `urlPath` from `root` (or its fallback), precompressed when the client takes it; returns
 * false when no such file exists (the caller sends 404).
 */
export function serveStatic(root: string, urlPath: string, res: ServerResponse, opts: StaticOptions = {}): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return false;
  }
  const relative = decoded === '/' ? 'index.html' : decoded.replace(/^\/+/, '');
  const inRoot = path.resolve(root, relative);
  if (inRoot !== root && !inRoot.startsWith(root + path.sep)) return false; // "..", absolute paths
  const fallback = opts.fallbacks?.get(relative);
  const file = fallback !== undefined && !fileStat(inRoot) ? fallback : inRoot;
  let stat = fileStat(file);
  if (!stat) {
    // The `.gz` copy of a file the folder lacks (the page fetches the WASM's as a file): made here.
    // (No stat means the folder has no such file: a fallback is chosen only where it has none.)
    const original = relative.endsWith('.gz') ? opts.fallbacks?.get(relative.slice(0, -'.gz'.length)) : undefined;
    if (original === undefined) return false;
    sendMadeGzipCopy(original, relative, res);
    return true;
  }
  const allows = accepted(opts.acceptEncoding);
  let sent = file;
  let encoding: string | undefined;
  let precompressed = false;
  for (const p of PRECOMPRESSED) {
    const copy = fileStat(file + p.suffix);
    if (!copy) continue;
    precompressed = true;
    if (encoding === undefined && allows(p.encoding)) {
      [sent, stat, encoding] = [file + p.suffix, copy, p.encoding];
    }
  }
  res.writeHead(200, {
    'Content-Type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
    'Content-Length': stat.size,
    'Cache-Control': cacheControl(relative),
    ...(encoding ? { 'Content-Encoding': encoding } : {}),
    ...(precompressed ? { Vary: 'Accept-Encoding' } : {}),
  });
  fs.createReadStream(sent).pipe(res);
  return true;
}

/** Gzip copies made at serve time, by the file they copy (fallback files: a few, checked once at start). */
const madeGzipCopies = new Map<string, Promise<Buffer>>();

function sendMadeGzipCopy(original: string, relative: string, res: ServerResponse): void {
  let copy = madeGzipCopies.get(original);
  if (!copy) {
    copy = fs.promises.readFile(original).then(gzipCopy);
    madeGzipCopies.set(original, copy);
  }
  copy.then(
    (bytes) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length, 'Cache-Control': cacheControl(relative) });
      res.end(bytes);
    },
    (err: Error) => {
      madeGzipCopies.delete(original);
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`could not compress ${relative}: ${err.message}\n`);
    },
  );
}

/** Vite's hashed files under assets/ never change; everything else is checked each time. */
function cacheControl(relative: string): string {
  return relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
}

/** Whether the page has been built into `root`. */
export function pageBuilt(root: string): boolean {
  return fs.existsSync(path.join(root, 'index.html'));
}
