/**
 * Where model files live, and opening them: the package's embedded model, the user's cache folder
 * (downloaded official weights and compiled ONNX models), and paths given on the command line.
 *
 *   <cache>/models/DiT-XL-2-256x256.pt        official DiT checkpoints (dit download)
 *   <cache>/vae/sd-vae-ft-ema/                 diffusers VAE folders (config.json + weights)
 *   <cache>/models/pt_inception-2015-12-05-6726825d.pth   pytorch-fid's FID Inception (dit download inception)
 *   <cache>/compiled/                          ONNX models built from checkpoints (runtime cache)
 * <cache> is $DIT_CACHE_DIR, else $XDG_CACHE_HOME/dit-ts, else ~/.cache/dit-ts.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { assert, DitError, UsageError } from './errors.js';
import { EMBEDDED_MODEL_DIR } from './assets.js';
import { loadVaeCheckpoint, openStateDict, readJsonObject, readSafetensors } from './checkpoint/index.js';
import { resolveDiTFiles } from './checkpoint/discovery.js';
import { inceptionWeightsProblem } from './models/inception.js';
import type { ClassifierSpec } from './models/classifier.js';
import { FAMILY_MODEL_PREFIX, modelName, type DiTVariantName, type ModelFamily } from './models/dit-config.js';
import {
  closingWeights,
  createClassifierSession,
  createVaeSession,
  type ClassifierSession,
  type SessionOptions,
  type VaeSession,
  type VaeSessionOptions,
} from './runtime/index.js';

export function defaultCacheDir(): string {
  if (process.env.DIT_CACHE_DIR) return path.resolve(process.env.DIT_CACHE_DIR);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'dit-ts');
}

export function cachePaths(cacheDir: string = defaultCacheDir()) {
  return {
    root: cacheDir,
    models: path.join(cacheDir, 'models'),
    vae: path.join(cacheDir, 'vae'),
    compiled: path.join(cacheDir, 'compiled'),
  };
}

/** The compiled-model cache folder a run uses: undefined (build in a temp folder) with --no-cache. */
export function compiledCacheDir(load: { readonly cacheDir: string | undefined; readonly noCache: boolean }): string | undefined {
  return load.noCache ? undefined : cachePaths(load.cacheDir ?? defaultCacheDir()).compiled;
}

/** The released DiT-XL/2 image sizes. */
export const OFFICIAL_IMAGE_SIZES = [256, 512] as const;
/** The image sizes each family released XL/2 weights for (SiT: download.py; REPA: utils.py). */
export const RELEASED_IMAGE_SIZES: Readonly<Record<ModelFamily, readonly number[]>> = { dit: OFFICIAL_IMAGE_SIZES, sit: [256], repa: [256] };
export type OfficialVae = 'ema' | 'mse';

/** The file of an official XL/2 checkpoint, relative to the cache root (what `dit download` writes). */
export function officialCheckpointFile(imageSize: number, family: ModelFamily = 'dit'): string {
  return path.join('models', `${FAMILY_MODEL_PREFIX[family]}XL-2-${imageSize}x${imageSize}.pt`);
}

/** The folder of `--vae ema|mse`, relative to the cache root. */
export function officialVaeFolder(name: OfficialVae): string {
  return path.join('vae', `sd-vae-ft-${name}`);
}

export function officialVaeDir(cacheDir: string, name: OfficialVae): string {
  return path.join(cacheDir, officialVaeFolder(name));
}

/** pytorch-fid's FID Inception weights, relative to the cache root (what `dit download inception` writes). */
export const INCEPTION_WEIGHTS_FILE = path.join('models', 'pt_inception-2015-12-05-6726825d.pth');

/**
 * What is wrong with `file` as pytorch-fid's FID Inception weights (every convolution and batch
 * norm of the network, with its shape), or undefined when it is that file.
 */
export function inceptionWeightsFileProblem(file: string): string | undefined {
  try {
    const sd = openStateDict(file);
    try {
      return inceptionWeightsProblem(new Map([...sd.tensors].map(([k, t]) => [k, t.shape])));
    } finally {
      sd.close();
    }
  } catch (err) {
    return (err as Error).message;
  }
}

/** --inception FILE, else the downloaded file in the cache; a missing file says how to get it. */
export function resolveInceptionWeights(given: string | undefined, cacheDir: string): string {
  const file = given ?? path.join(cacheDir, INCEPTION_WEIGHTS_FILE);
  if (!fs.existsSync(file)) {
    throw new UsageError(
      given === undefined
        ? `the FID Inception weights are not in the cache (${file}); run \`dit download inception\` (95 MB, pytorch-fid's pt_inception-2015-12-05), or pass --inception FILE`
        : `--inception ${given}: no such file; pass pytorch-fid's pt_inception-2015-12-05-6726825d.pth or run \`dit download inception\``,
    );
  }
  return file;
}

export interface ModelSource {
  readonly ckpt: string;
  readonly embedded: boolean;
}

/** --ckpt PATH, --model DiT-XL/2 (the cached official file), or the embedded model. */
export function resolveModelSource(load: {
  readonly ckpt: string | undefined;
  readonly model: string | undefined;
  readonly family?: ModelFamily;
  readonly imageSize: number | undefined;
  readonly cacheDir: string | undefined;
}): ModelSource {
  if (load.ckpt !== undefined) {
    if (!fs.existsSync(load.ckpt)) {
      throw new UsageError(`--ckpt ${load.ckpt}: no such file or folder; check the path`);
    }
    return { ckpt: load.ckpt, embedded: false };
  }
  if (load.model !== undefined) {
    const family = load.family ?? 'dit';
    const name = modelName(family, load.model as DiTVariantName);
    const sizes = RELEASED_IMAGE_SIZES[family];
    if (load.model !== 'DiT-XL/2') {
      throw new UsageError(`--model ${name} has no released weights; only ${modelName(family, 'DiT-XL/2')} (${sizes.join(' and ')}) was released. Pass --ckpt with your own checkpoint`);
    }
    const size = load.imageSize ?? 256;
    if (!sizes.includes(size)) {
      throw new UsageError(`--image-size ${size}: the released ${name} weights are ${sizes.join(' or ')}; pass --ckpt for other sizes`);
    }
    const file = path.join(load.cacheDir ?? defaultCacheDir(), officialCheckpointFile(size, family));
    if (!fs.existsSync(file)) {
      throw new UsageError(`the official ${name} ${size}×${size} weights are not in the cache (${file}); run \`dit download ${name.replace('/', '-')}-${size}\` or pass --ckpt`);
    }
    return { ckpt: file, embedded: false };
  }
  return { ckpt: EMBEDDED_MODEL_DIR, embedded: true };
}

/**
 * DiT weights up to this size are identified by their content as well (sha256), not only by name and
 * size: a model retrained with the same shapes has the same size (the embedded model's int8 file is
 * 9.9 MB whatever its training), and a bulk folder or sweep that is resumed, sharded or shared by
 * queue workers must not mix two models' images. Larger files (DiT-XL/2: 2.7 GB) keep name and size,
 * which cost nothing to read.
 */
export const HASHED_WEIGHTS_MAX_BYTES = 64 * 2 ** 20;

/**
 * The DiT weights a pipeline loads, as recorded by runs that can be resumed (bulk/run.ts planBulk,
 * sweeps): "embedded " for the embedded model, then the weights file (a folder's), its size and, up
 * to HASHED_WEIGHTS_MAX_BYTES, its sha256.
 */
export function weightsIdentity(load: Parameters<typeof resolveModelSource>[0]): string {
  const source = resolveModelSource(load);
  const file = fs.statSync(source.ckpt).isDirectory() ? resolveDiTFiles(source.ckpt, undefined).weights : source.ckpt;
  assert(typeof file === 'string', 'weights on disk');
  const size = fs.statSync(file).size;
  const hash = size <= HASHED_WEIGHTS_MAX_BYTES ? `, sha256 ${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}` : '';
  return `${source.embedded ? 'embedded ' : ''}${path.basename(file)} (${size} bytes${hash})`;
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

/**
 * A decoder for a VAE folder (config.json + weights) or weights file in any naming the checkpoint
 * loader knows (diffusers new or old attention names, original LDM). The file stays open until
 * `release()`, since a new latent size builds a new model from it.
 */
export async function openVaeSession(pathOrDir: string, opts: VaeSessionOptions = {}): Promise<VaeSession> {
  const ckpt = loadVaeCheckpoint(pathOrDir);
  return closingWeights(createVaeSession({ config: ckpt.config, weights: ckpt.weights.tensors, path: ckpt.path, scalingFactor: ckpt.scalingFactor }, opts), ckpt.weights);
}

/** A classifier folder: classifier.json (the layer list) and classifier.safetensors. */
export async function openClassifier(dir: string, opts: SessionOptions = {}): Promise<ClassifierSession> {
  const specFile = path.join(dir, 'classifier.json');
  if (!fs.existsSync(specFile)) throw new DitError(`no classifier in ${dir} (classifier.json is missing)`);
  const spec = readJsonObject(specFile) as unknown as ClassifierSpec;
  const weights = readSafetensors(path.join(dir, 'classifier.safetensors'));
  try {
    return await createClassifierSession(spec, weights.tensors, opts);
  } finally {
    weights.close();
  }
}

/** The classifier shipped with the embedded Fashion-MNIST DiT. */
export function openEmbeddedClassifier(opts: SessionOptions = {}): Promise<ClassifierSession> {
  return openClassifier(EMBEDDED_MODEL_DIR, opts);
}
