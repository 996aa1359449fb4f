/**
 * `dit download`: the official DiT checkpoints and SD VAEs, from the locations the official code
 * uses (DiT's download.py; the stabilityai VAE repositories on the Hugging Face hub), into the
 * cache folder. Resumable (an interrupted `.part` file continues with an HTTP Range request),
 * size-checked against Content-Length, and renamed into place only when complete.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DitError, UsageError } from './errors.js';
import { cachePaths } from './cache.js';

const FAIR = 'https://dl.fbaipublicfiles.com/';
const HF = 'https://huggingface.co/';

interface RemoteFile {
  /** Path under the origin, also the path under a mirror. */
  readonly path: string;
  readonly origin: string;
  /** Where it goes, relative to the cache root. */
  readonly target: string;
}

function vaeFiles(name: 'ema' | 'mse'): RemoteFile[] {
  const repo = `stabilityai/sd-vae-ft-${name}`;
  return ['config.json', 'diffusion_pytorch_model.safetensors'].map((f) => ({
    path: `${repo}/resolve/main/${f}`,
    origin: HF,
    target: `vae/sd-vae-ft-${name}/${f}`,
  }));
}

/** What `dit download NAME` fetches. */
export const DOWNLOADS: Readonly<Record<string, readonly RemoteFile[]>> = Object.freeze({
  'DiT-XL-2-256': [{ path: 'DiT/models/DiT-XL-2-256x256.pt', origin: FAIR, target: 'models/DiT-XL-2-256x256.pt' }],
  'DiT-XL-2-512': [{ path: 'DiT/models/DiT-XL-2-512x512.pt', origin: FAIR, target: 'models/DiT-XL-2-512x512.pt' }],
  'vae-ema': vaeFiles('ema'),
  'vae-mse': vaeFiles('mse'),
});

/** The cached file of an official checkpoint (what `--model DiT-XL/2 --image-size 256` loads). */
export function officialCheckpointPath(cacheDir: string, imageSize: number): string {
  return path.join(cachePaths(cacheDir).models, `DiT-XL-2-${imageSize}x${imageSize}.pt`);
}

/** The cached folder of `--vae ema|mse`. */
export function officialVaeDir(cacheDir: string, name: 'ema' | 'mse'): string {
  return path.join(cachePaths(cacheDir).vae, `sd-vae-ft-${name}`);
}

/**
 * `--vae ema|mse` → the cached official VAE folder (it must hold config.json); anything else is a
 * VAE folder or weights file that must exist. `noneAllowed`: the command also accepts `--vae none`.
 */
export function resolveVaeSource(name: string, cacheDir: string, opts: { noneAllowed: boolean }): string {
  if (name === 'ema' || name === 'mse') {
    const dir = officialVaeDir(cacheDir, name);
    if (!fs.existsSync(path.join(dir, 'config.json'))) {
      throw new UsageError(
        `--vae ${name}: the folder ${dir} does not hold the VAE. Run \`dit download vae-${name}\`, or place config.json and ` +
          `diffusion_pytorch_model.safetensors from https://huggingface.co/stabilityai/sd-vae-ft-${name} there` +
          (opts.noneAllowed ? '; or pass --vae none to save latents only' : ''),
      );
    }
    return dir;
  }
  if (!fs.existsSync(name)) {
    throw new UsageError(`--vae ${name}: no such file or folder; pass ema, mse, a VAE folder or file${opts.noneAllowed ? ', or none' : ''}`);
  }
  return name;
}

export interface DownloadProgress {
  readonly file: string;
  readonly received: number;
  readonly total: number | undefined;
}

export interface DownloadOptions {
  readonly cacheDir: string;
  /** Fetch `<mirror>/<path>` instead of the official hosts (tests, air-gapped mirrors). */
  readonly mirror?: string;
  readonly onProgress?: (p: DownloadProgress) => void;
  readonly signal?: AbortSignal;
}

/** Downloads one named item; returns the local paths. Files already complete are kept. */
export async function download(name: string, opts: DownloadOptions): Promise<string[]> {
  const files = DOWNLOADS[name];
  if (!files) {
    throw new UsageError(`unknown download "${name}": must be one of ${Object.keys(DOWNLOADS).join(', ')}`);
  }
  const out: string[] = [];
  for (const f of files) {
    const base = opts.mirror ? opts.mirror.replace(/\/?$/, '/') : f.origin;
    const target = path.join(opts.cacheDir, f.target);
    await fetchResumable(new URL(f.path, base).toString(), target, opts);
    out.push(target);
  }
  return out;
}

async function fetchResumable(url: string, target: string, opts: DownloadOptions): Promise<void> {
  if (fs.existsSync(target)) return;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const part = `${target}.part`;
  let have = fs.existsSync(part) ? fs.statSync(part).size : 0;
  let res: Response;
  try {
    res = await fetch(url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, signal: opts.signal, redirect: 'follow' });
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    throw new DitError(`cannot reach ${url}: ${(err as Error).cause ?? (err as Error).message}; check the network or pass --mirror`);
  }
  if (res.status === 416 && have > 0) {
    // The partial file is already whole (or bigger than the remote): start over to be sure.
    fs.rmSync(part);
    return fetchResumable(url, target, opts);
  }
  if (res.status !== 200 && res.status !== 206) {
    throw new DitError(`download of ${url} failed: HTTP ${res.status} ${res.statusText}`);
  }
  if (res.status === 200) have = 0; // the server ignored the Range header: restart from zero
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? have + length : undefined;
  const fd = fs.openSync(part, have > 0 ? 'a' : 'w');
  let received = have;
  try {
    if (!res.body) throw new DitError(`download of ${url} returned no body`);
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      fs.writeSync(fd, chunk);
      received += chunk.length;
      opts.onProgress?.({ file: path.basename(target), received, total });
    }
  } finally {
    fs.closeSync(fd);
  }
  if (total !== undefined && received !== total) {
    throw new DitError(`download of ${url} stopped at ${received} of ${total} bytes; run the same command again to resume`);
  }
  fs.renameSync(part, target);
}
