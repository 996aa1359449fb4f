/**
 * `dit download`: the official DiT checkpoints and SD VAEs, from the locations the official code
 * uses (DiT's download.py; the stabilityai VAE repositories on the Hugging Face hub), and
 * pytorch-fid's FID Inception weights (its GitHub release), into the cache folder. Resumable (an interrupted `.part` file continues with an HTTP Range request whose
 * Content-Range must match), bounded (a stalled connection times out; a body may not outgrow the
 * file's size limit or its announced length), and renamed into place only when the whole file is
 * there AND is what it must be: the released files' SHA-256 could not be pinned from here, so each
 * is checked by what it holds (a DiT-XL/2 checkpoint of the right size, an SD VAE of the right
 * shapes, its config.json). A file already in the cache is checked the same way before it is kept.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DitError, UsageError } from './errors.js';
import { INCEPTION_WEIGHTS_FILE, inceptionWeightsFileProblem, officialCheckpointFile, officialVaeFolder, type OfficialVae } from './model-files.js';
import { inspectDiTCheckpoint, loadVaeCheckpoint, readJsonObject } from './checkpoint/index.js';
import { SD_VAE_CONFIG } from './models/vae-config.js';
import { FAMILY_TITLE, type ModelFamily } from './models/dit-config.js';

const FAIR = 'https://dl.fbaipublicfiles.com/';
const DROPBOX = 'https://www.dl.dropboxusercontent.com/';
const HF = 'https://huggingface.co/';
const GITHUB = 'https://github.com/';

interface RemoteFile {
  /** Path under the origin, also the path under a mirror. */
  readonly path: string;
  readonly origin: string;
  /** Where it goes, relative to the cache root. */
  readonly target: string;
  /** No body may grow past this (the released files are a little smaller). */
  readonly maxBytes: number;
  /** What is wrong with a complete download, or undefined when it is the file it must be. */
  readonly check: (file: string) => string | undefined;
}

const MB = 1e6;

/** The SD VAE's config.json: the decoder fields must be SD_VAE_CONFIG's. */
function checkVaeConfig(file: string): string | undefined {
  let json: Record<string, unknown>;
  try {
    json = readJsonObject(file);
  } catch (err) {
    return (err as Error).message;
  }
  for (const field of ['block_out_channels', 'layers_per_block', 'latent_channels', 'norm_num_groups'] as const) {
    if (JSON.stringify(json[field]) !== JSON.stringify(SD_VAE_CONFIG[field])) {
      return `its ${field} is ${JSON.stringify(json[field])}, the SD VAE's is ${JSON.stringify(SD_VAE_CONFIG[field])}`;
    }
  }
  return undefined;
}

/** The SD VAE's weights: an AutoencoderKL decoder with SD_VAE_CONFIG's shapes. */
function checkVaeWeights(file: string): string | undefined {
  try {
    const vae = loadVaeCheckpoint(file);
    vae.weights.close();
    const c = vae.config;
    if (c.block_out_channels.join() !== SD_VAE_CONFIG.block_out_channels.join() || c.latent_channels !== SD_VAE_CONFIG.latent_channels) {
      return `it is an AutoencoderKL with block_out_channels [${c.block_out_channels.join(', ')}], not the SD VAE's`;
    }
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/**
 * A released XL/2 of one family and image size: every key and shape, 1000 classes; DiT and SiT
 * learn sigma (SiT's sample.py builds its download with learn_sigma), REPA does not and carries
 * its projectors.
 */
function checkOfficialDiT(imageSize: number, family: ModelFamily = 'dit') {
  return (file: string): string | undefined => {
    try {
      const found = inspectDiTCheckpoint(file, { model: 'DiT-XL/2', imageSize });
      found.weights.close();
      if (found.problems.length > 0) return found.problems[0];
      if (found.config?.num_classes !== 1000) return `it has ${found.config?.num_classes} classes, not ImageNet's 1000`;
      const repa = found.familyFound.family === 'repa';
      if (repa !== (family === 'repa')) return repa ? "it is a REPA checkpoint (it has REPA's projectors)" : "it has no REPA projectors";
      if (found.config.learn_sigma !== (family !== 'repa')) return `its final layer has ${found.config.learn_sigma ? 2 * found.config.in_channels : found.config.in_channels} output channels, the released ${FAMILY_TITLE[family]}-XL/2 ${family === 'repa' ? 'has no learned sigma' : 'learns sigma'}`;
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  };
}

function vaeFiles(name: OfficialVae): RemoteFile[] {
  const repo = `stabilityai/sd-vae-ft-${name}`;
  const file = (f: string, maxBytes: number, check: RemoteFile['check']): RemoteFile => ({
    path: `${repo}/resolve/main/${f}`,
    origin: HF,
    target: path.join(officialVaeFolder(name), f),
    maxBytes,
    check,
  });
  return [file('config.json', 0.1 * MB, checkVaeConfig), file('diffusion_pytorch_model.safetensors', 400 * MB, checkVaeWeights)];
}

function officialDiT(imageSize: number): RemoteFile {
  const target = officialCheckpointFile(imageSize);
  return { path: `DiT/${target}`, origin: FAIR, target, maxBytes: 3200 * MB, check: checkOfficialDiT(imageSize) };
}

/** SiT-XL/2 256 (willisma/SiT download.py) and REPA's SiT-XL/2 256, 4M iterations (sihyun-yu/REPA utils.py). */
function releasedFlowModel(family: 'sit' | 'repa', dropboxPath: string): RemoteFile {
  return { path: dropboxPath, origin: DROPBOX, target: officialCheckpointFile(256, family), maxBytes: 3200 * MB, check: checkOfficialDiT(256, family) };
}

/**
 * pytorch-fid's FID Inception weights (its FID_WEIGHTS_URL, a release asset on GitHub; 95 MB):
 * checked by content, every convolution and batch norm of the network with its shape.
 */
const INCEPTION: RemoteFile = {
  path: `mseitzer/pytorch-fid/releases/download/fid_weights/${path.basename(INCEPTION_WEIGHTS_FILE)}`,
  origin: GITHUB,
  target: INCEPTION_WEIGHTS_FILE,
  maxBytes: 110 * MB,
  check: inceptionWeightsFileProblem,
};

/** What `dit download NAME` fetches. */
export const DOWNLOADS: Readonly<Record<string, readonly RemoteFile[]>> = Object.freeze({
  'DiT-XL-2-256': [officialDiT(256)],
  'DiT-XL-2-512': [officialDiT(512)],
  'SiT-XL-2-256': [releasedFlowModel('sit', 'scl/fi/as9oeomcbub47de5g4be0/SiT-XL-2-256.pt?rlkey=uxzxmpicu46coq3msb17b9ofa&dl=0')],
  'REPA-SiT-XL-2-256': [releasedFlowModel('repa', 'scl/fi/cxedbs4da5ugjq5wg3zrg/last.pt?rlkey=8otgrdkno0nd89po3dpwngwcc&st=apcc645o&dl=0')],
  'vae-ema': vaeFiles('ema'),
  'vae-mse': vaeFiles('mse'),
  inception: [INCEPTION],
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
  /** Give up on a connection that delivers nothing for this long (default 60 s). */
  readonly stallSeconds?: number;
}

/** The folders a download of `files` would create under `cacheDir` (deepest first) that do not exist yet. */
function missingFolders(cacheDir: string, files: readonly RemoteFile[]): string[] {
  const root = path.resolve(cacheDir);
  const folders = new Set<string>([root]);
  for (const f of files) {
    for (let dir = path.dirname(path.join(root, f.target)); dir.length > root.length; dir = path.dirname(dir)) folders.add(dir);
  }
  return [...folders].filter((d) => !fs.existsSync(d)).sort((a, b) => b.length - a.length);
}

/**
 * Downloads one named item; returns the local paths. Files already complete are kept. A failure
 * removes the folders this call created and left empty (a `.part` to resume from keeps its folder).
 */
export async function download(name: string, opts: DownloadOptions): Promise<string[]> {
  const files = DOWNLOADS[name];
  if (!files) {
    throw new UsageError(`unknown download "${name}": must be one of ${Object.keys(DOWNLOADS).join(', ')}`);
  }
  const created = missingFolders(opts.cacheDir, files);
  try {
    return await downloadFiles(files, opts);
  } catch (err) {
    for (const dir of created) {
      if (fs.existsSync(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
    }
    throw err;
  }
}

async function downloadFiles(files: readonly RemoteFile[], opts: DownloadOptions): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) {
    const base = opts.mirror ? opts.mirror.replace(/\/?$/, '/') : f.origin;
    const target = path.join(opts.cacheDir, f.target);
    const url = new URL(f.path, base).toString();
    if (fs.existsSync(target)) {
      const problem = f.check(target);
      if (problem === undefined) {
        out.push(target);
        continue;
      }
      fs.rmSync(target);
      opts.onProgress?.({ file: `${path.basename(target)} (the cached copy was not valid: ${problem}; fetching it again)`, received: 0, total: undefined });
    }
    await fetchResumable(url, target, f, opts);
    out.push(target);
  }
  return out;
}

/** Bytes START-END/TOTAL of a 206 answer. */
function parseContentRange(header: string | null): { start: number; end: number; total: number | undefined } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(header ?? '');
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

async function fetchResumable(url: string, target: string, file: RemoteFile, opts: DownloadOptions, restarted = false): Promise<void> {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const part = `${target}.part`;
  const name = path.basename(target);
  // Said only when a partial file exists: a connection that never delivered leaves none.
  const kept = () => (fs.existsSync(part) ? `the partial file ${part} is kept: run the same command again to resume` : 'run the same command again to retry');
  let have = fs.existsSync(part) ? fs.statSync(part).size : 0;
  if (have > file.maxBytes) {
    fs.rmSync(part);
    have = 0;
  }
  const stall = new AbortController();
  const stallMs = (opts.stallSeconds ?? 60) * 1000;
  let timer = setTimeout(() => stall.abort(), stallMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, stall.signal]) : stall.signal;
  const failure = (what: string, err: unknown): DitError => {
    const why = stall.signal.aborted ? `nothing arrived for ${stallMs / 1000} s` : String((err as Error).cause ?? (err as Error).message);
    return new DitError(`${what} ${url} (${why}); ${kept()}${opts.mirror ? '' : ', or pass --mirror'}`);
  };
  try {
    let res: Response;
    try {
      res = await fetch(url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {}, signal, redirect: 'follow' });
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      throw failure('cannot reach', err);
    }
    if (res.status === 416 && have > 0 && !restarted) {
      // The partial file is already whole (or bigger than the remote): start over to be sure.
      fs.rmSync(part);
      return await fetchResumable(url, target, file, opts, true);
    }
    if (res.status !== 200 && res.status !== 206) {
      throw new DitError(`download of ${url} failed: HTTP ${res.status} ${res.statusText}${opts.mirror ? ' (check what --mirror serves)' : ''}`);
    }
    if (res.status === 206) {
      const range = parseContentRange(res.headers.get('content-range'));
      if (range === undefined || range.start !== have) {
        // Appending bytes from another offset would corrupt the file: start over once.
        await res.body?.cancel();
        fs.rmSync(part, { force: true });
        if (restarted) throw new DitError(`download of ${url}: the server answered a request for bytes ${have}- with "${res.headers.get('content-range')}"`);
        return await fetchResumable(url, target, file, opts, true);
      }
    }
    if (res.status === 200) have = 0; // the server ignored the Range header: restart from zero
    const length = Number(res.headers.get('content-length') ?? NaN);
    const total = Number.isFinite(length) ? have + length : undefined;
    if (total !== undefined && total > file.maxBytes) {
      await res.body?.cancel();
      throw new DitError(`download of ${url} announces ${total} bytes; ${name} is at most ${file.maxBytes}: this is not the official file${opts.mirror ? ' (check what --mirror serves)' : ''}`);
    }
    const fd = fs.openSync(part, have > 0 ? 'a' : 'w');
    let received = have;
    try {
      if (!res.body) throw new DitError(`download of ${url} returned no body`);
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(timer);
        timer = setTimeout(() => stall.abort(), stallMs);
        received += chunk.length;
        if (received > (total ?? file.maxBytes)) {
          throw new DitError(`download of ${url} sent more than the ${total ?? file.maxBytes} bytes it may have; ${kept()}`);
        }
        fs.writeSync(fd, chunk);
        opts.onProgress?.({ file: name, received, total });
      }
    } catch (err) {
      if (err instanceof DitError || opts.signal?.aborted) throw err;
      throw failure(`download broke off at ${received}${total === undefined ? '' : ` of ${total}`} bytes from`, err);
    } finally {
      fs.closeSync(fd);
    }
    if (total !== undefined && received !== total) {
      throw new DitError(`download of ${url} stopped at ${received} of ${total} bytes; ${kept()}`);
    }
    const problem = file.check(part);
    if (problem !== undefined) {
      fs.rmSync(part);
      throw new DitError(`the file downloaded from ${url} is not the official ${name} (${problem}); it was deleted${opts.mirror ? ': check what --mirror serves' : ''}`);
    }
    fs.renameSync(part, target);
  } finally {
    clearTimeout(timer);
  }
}
