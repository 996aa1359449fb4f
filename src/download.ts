/**
 * `dit download`: the official DiT checkpoints and SD VAEs, from the locations the official code
 * uses (DiT's download.py; the stabilityai VAE repositories on the Hugging Face hub), into the
 * cache folder. Resumable (an interrupted `.part` file continues with an HTTP Range request),
 * size-checked against Content-Length, and renamed into place only when complete.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DitError, UsageError } from './errors.js';
import { officialCheckpointFile, officialVaeFolder, type OfficialVae } from './model-files.js';

const FAIR = 'https://dl.fbaipublicfiles.com/';
const HF = 'https://huggingface.co/';

interface RemoteFile {
  /** Path under the origin, also the path under a mirror. */
  readonly path: string;
  readonly origin: string;
  /** Where it goes, relative to the cache root. */
  readonly target: string;
}

function vaeFiles(name: OfficialVae): RemoteFile[] {
  const repo = `stabilityai/sd-vae-ft-${name}`;
  return ['config.json', 'diffusion_pytorch_model.safetensors'].map((f) => ({
    path: `${repo}/resolve/main/${f}`,
    origin: HF,
    target: path.join(officialVaeFolder(name), f),
  }));
}

function officialDiT(imageSize: number): RemoteFile {
  const target = officialCheckpointFile(imageSize);
  return { path: `DiT/${target}`, origin: FAIR, target };
}

/** What `dit download NAME` fetches. */
export const DOWNLOADS: Readonly<Record<string, readonly RemoteFile[]>> = Object.freeze({
  'DiT-XL-2-256': [officialDiT(256)],
  'DiT-XL-2-512': [officialDiT(512)],
  'vae-ema': vaeFiles('ema'),
  'vae-mse': vaeFiles('mse'),
});

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
