/**
 * The static site's files beyond what Vite writes (npm run build:site → dist/site):
 *
 * - **Precompressed copies**: `NAME.br` and `NAME.gz` next to every compressible file, the names
 *   nginx (`gzip_static`, `brotli_static`), Caddy (`precompressed`) and `dit serve --browser`
 *   (static.ts) look for. The page itself fetches ORT's WASM as its `.gz` copy, a file of its own
 *   (runtime/web.ts provideOrtWasm): 3.7 MB instead of 14.2 MB from any host, compressing or not.
 * - **Sources** (`site-sources.json`): which big files of the site are byte-for-byte copies of files
 *   the installed package already has — onnxruntime-web's WASM, the embedded model's weights. The
 *   npm package leaves those copies out of dist/site (package.json `files`), and `dit serve --browser`
 *   sends the originals, after checking they are the bytes the site was built with.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { DitError } from '../errors.js';

/** Content-Encoding → the suffix of its precompressed copy, in the order a server prefers them. */
export const PRECOMPRESSED: readonly { readonly encoding: 'br' | 'gzip'; readonly suffix: string }[] = [
  { encoding: 'br', suffix: '.br' },
  { encoding: 'gzip', suffix: '.gz' },
];

/** Files worth compressing (the weights gain 9 %, the WASM 80 %, the page's JS 70 %). */
const COMPRESSIBLE = /\.(html|js|mjs|css|json|svg|wasm|safetensors)$/;

/** Below this, a copy saves less than a packet. */
const MIN_BYTES = 1024;

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/**
 * A file's `.gz` copy: level 9 (ORT's 14.2 MB WASM: 3.69 MB in 0.37 s on this 2-core machine; level
 * 6: 3.70 MB in 0.30 s). The page fetches the WASM's as a file of its own (runtime/web.ts
 * provideOrtWasm); `dit serve --browser` makes it at serve time where an installed package lacks it.
 */
export function gzipCopy(raw: Buffer): Promise<Buffer> {
  return gzip(raw, { level: 9 });
}

export interface PrecompressStats {
  readonly files: number;
  readonly rawBytes: number;
  readonly brBytes: number;
  readonly gzipBytes: number;
}

/**
 * Writes `.br` and `.gz` beside every compressible file under `root` (kept only when smaller than
 * the file). Brotli quality 11 for files up to 1 MiB; 6 above: on this 2-core machine ORT's 14.2 MB
 * WASM takes 1.2 s at 6 (2.77 MB), 3.3 s at 9 (2.69 MB), 76 s at 11 (2.36 MB). In parallel on
 * libuv's thread pool.
 */
export async function precompressFolder(root: string): Promise<PrecompressStats> {
  const files = listFiles(root).filter((f) => COMPRESSIBLE.test(f) && fs.statSync(f).size >= MIN_BYTES);
  const sizes = await Promise.all(
    files.map(async (file) => {
      const raw = fs.readFileSync(file);
      const quality = raw.length <= 1 << 20 ? 11 : 6;
      const [br, gz] = await Promise.all([
        brotli(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: quality, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } }),
        gzipCopy(raw),
      ]);
      const kept = (copy: Buffer, suffix: string): number => {
        if (copy.length >= raw.length) return raw.length;
        fs.writeFileSync(file + suffix, copy);
        return copy.length;
      };
      return { raw: raw.length, br: kept(br, '.br'), gz: kept(gz, '.gz') };
    }),
  );
  return {
    files: files.length,
    rawBytes: sizes.reduce((a, s) => a + s.raw, 0),
    brBytes: sizes.reduce((a, s) => a + s.br, 0),
    gzipBytes: sizes.reduce((a, s) => a + s.gz, 0),
  };
}

function listFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(path.join(dir, e.name)) : e.isFile() ? [path.join(dir, e.name)] : []));
}

// ---- sources ------------------------------------------------------------------------------------

/** In the site's root: URL path (relative) → where the installed package has the same bytes. */
export const SITE_SOURCES_FILE = 'site-sources.json';

export interface SiteSource {
  /** A module specifier (`onnxruntime-web/ort-wasm-simd-threaded.wasm`) or a path from the package root (`./assets/…`). */
  readonly from: string;
  readonly bytes: number;
  readonly sha256: string;
}

export type SiteSources = Readonly<Record<string, SiteSource>>;

// src/server/ and dist/server/ both sit two levels below the package root.
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where `from` is on this machine. */
function resolveSource(from: string): string {
  return from.startsWith('./') ? path.join(packageRoot, from) : createRequire(import.meta.url).resolve(from);
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * Build time: finds which files of the built site (`root`) are copies of `candidates` (specifiers
 * as SiteSource.from takes them) and writes site-sources.json. Returns the entries.
 */
export function recordSiteSources(root: string, candidates: readonly string[]): SiteSources {
  const byHash = new Map<string, string>();
  for (const from of candidates) byHash.set(sha256(resolveSource(from)), from);
  const sources: Record<string, SiteSource> = {};
  for (const file of listFiles(root)) {
    if (!/\.(wasm|safetensors)$/.test(file)) continue;
    const hash = sha256(file);
    const from = byHash.get(hash);
    // package.json leaves every .wasm and .safetensors of the site out of the package, by name.
    if (!from) throw new Error(`${file} is not a copy of any of ${candidates.join(', ')}: the npm package would lack it; add its source to the candidates`);
    sources[path.relative(root, file).split(path.sep).join('/')] = { from, bytes: fs.statSync(file).size, sha256: hash };
  }
  fs.writeFileSync(path.join(root, SITE_SOURCES_FILE), `${JSON.stringify(sources, null, 2)}\n`);
  return sources;
}

/**
 * Serve time: the files of site-sources.json that `root` lacks (an installed package leaves them
 * out), each resolved to the package's own copy and checked (size and SHA-256) once, here: a site
 * built against another onnxruntime-web would load a WASM its JavaScript does not match.
 * URL path (relative) → file on disk.
 */
export function siteFallbacks(root: string): ReadonlyMap<string, string> {
  const list = path.join(root, SITE_SOURCES_FILE);
  const out = new Map<string, string>();
  if (!fs.existsSync(list)) return out;
  const sources = JSON.parse(fs.readFileSync(list, 'utf8')) as SiteSources;
  for (const [relative, source] of Object.entries(sources)) {
    if (fs.existsSync(path.join(root, relative))) continue;
    let file: string;
    try {
      file = resolveSource(source.from);
    } catch {
      throw new DitError(`the site in ${root} needs ${source.from}, which is not installed; reinstall dit-ts (npm install) or rebuild the site (npm run build:site)`);
    }
    if (!fs.existsSync(file) || fs.statSync(file).size !== source.bytes || sha256(file) !== source.sha256) {
      throw new DitError(`the site in ${root} was built with other bytes of ${source.from} than ${file} holds (another onnxruntime-web version?); reinstall dit-ts (npm install) or rebuild the site (npm run build:site)`);
    }
    out.set(relative, file);
  }
  return out;
}
