/**
 * User options → resolved options, validated in ONE place. Every front end (CLI, server, library)
 * passes its raw values here; deeper code trusts the resolved objects and never re-validates.
 *
 * Two stages, because some limits depend on the loaded model:
 *   resolveLoadOptions(user)               what to load and where to run it
 *   resolveGenerateOptions(user, model)    what to sample (class ids < num_classes, defaults that
 *                                          differ between the embedded model and official DiT)
 * and one resolver per command that needs more: resolveDecodeOptions, resolveBenchOptions,
 * resolveServeOptions. Numbers may come as strings (a command line gives strings); they are
 * converted here and quoted verbatim in messages.
 * Messages name the flag as the CLI spells it; the library's option names are the camelCase of
 * the same words (--num-sampling-steps ↔ numSamplingSteps).
 */
import { UsageError } from './errors.js';
import { LABEL_MODES, type LabelMode } from './bulk/plan.js';
import { DIT_ATTENTION_FORMS, DIT_DTYPES, FAMILY_TITLE, MAX_IMAGE_SIZE, MAX_NUM_CLASSES, MODEL_FAMILIES, MODEL_NAMES, ditConfigFor, type DiTAttentionForm, type DiTDtype, findModel, isLatentDiT, modelName, pixelsPerCell, type DiTConfig, type DiTVariantName, type ModelFamily } from './models/dit-config.js';
import { resolveClassNames, type ClassTable } from './classes.js';
import { SAMPLER_NAMES, samplerFamily, type SamplerName } from './diffusion/samplers/index.js';
import { GUIDANCE_FORMS, type GuidanceForm } from './diffusion/guidance.js';
import { TIMESTEP_SPACINGS, TRAIN_TIMESTEPS, ddimStride, nearbyDdimCounts, type TimestepSpacing as Spacing } from './diffusion/schedule.js';
import type { VaeDtype } from './models/vae-config.js';
import { DEFAULT_ATTENTION, DEFAULT_MAX_MEMORY_GB, DEVICE_NAMES, DTYPE_DEVICES, GRAPH_OPTIMIZATION_LEVELS, VAE_DTYPE, type Device, type GraphOptimizationLevel } from './runtime/devices.js';
export { DEFAULT_ATTENTION, DEFAULT_MAX_MEMORY_GB, VAE_DTYPE };

// The allowed values are the ones diffusion/ implements, listed where they are implemented.
export { SAMPLER_NAMES as SAMPLERS, type SamplerName } from './diffusion/samplers/index.js';
export { GUIDANCE_FORMS, type GuidanceForm } from './diffusion/guidance.js';
export { TIMESTEP_SPACINGS as SPACINGS, type TimestepSpacing as Spacing } from './diffusion/schedule.js';
export { DEVICE_NAMES as DEVICES, type Device as DeviceName } from './runtime/devices.js';

/** The notebook's limits: a steps slider 0..1000 (0 is no run) and 1000 training timesteps. */
export const MAX_SAMPLING_STEPS = 1000;
export const MAX_IMAGES = 256;
/** torch.manual_seed's range: a negative seed is read as its two's-complement uint64 (diffusion/random.ts). */
export const MIN_SEED = -(2n ** 63n);
export const MAX_SEED = 2n ** 64n - 1n;
/**
 * The largest --cfg-scale. The guided prediction is uncond + s·(cond − uncond): past a few tens the
 * scaled difference swamps the prediction and the samples are saturated noise (1e9 gives pure
 * noise). The paper and the notebook use 1..10; 100 leaves ten times that for experiments.
 */
export const MAX_CFG_SCALE = 100;
export const MAX_THREADS = 1024;
export const DEFAULT_DEVICE: Device = 'cpu';
/** fp32 everywhere: the precision that gives the official code's images for a seed. */
export const DEFAULT_DTYPE: DiTDtype = 'fp32';
export { DIT_DTYPES as DTYPES, type DiTDtype } from './models/dit-config.js';

/** What to load. All optional: nothing given means the embedded Fashion-MNIST model on the CPU. */
export interface UserLoadOptions {
  /** Named variant, e.g. "DiT-XL/2", "SiT-XL/2", "REPA-SiT-XL/2"; checked against the checkpoint's shapes. */
  model?: string;
  /** dit | sit | repa: what the checkpoint's network was trained as (SiT's weights look like DiT's). */
  family?: string;
  /** Checkpoint file or folder (.pt/.pth/.bin/.safetensors, a diffusers folder). */
  ckpt?: string;
  /** config.json with the DiT constructor's argument names (num_heads etc.). */
  config?: string;
  /** "ema" | "mse" (from the model cache folder) | a VAE folder or file | "none" (save latents only). */
  vae?: string;
  /** Image side in pixels (256 or 512 for the official models). */
  imageSize?: number | string;
  numClasses?: number | string;
  device?: string;
  /** CPU threads for ONNX Runtime (default: ONNX Runtime's choice, one per physical core). */
  threads?: number | string;
  /** DiT precision: "fp32" (default; the official code's numbers) or "q8" (int8 linears, CPU). */
  dtype?: string;
  /** How the DiT computes attention: "fused" or "plain" (ATTENTION_FORMS); default DEFAULT_ATTENTION for the device. */
  attention?: string;
  /** GiB of working memory one VAE decode call may take (default 2); a latent over it alone is refused. */
  maxMemory?: number | string;
  /** Rebuild the ONNX model instead of reusing the compiled-model cache. */
  noCache?: boolean;
  /** Where downloaded weights and compiled models live (default $DIT_CACHE_DIR, else $XDG_CACHE_HOME/dit-ts, else ~/.cache/dit-ts). */
  cacheDir?: string;
}

export interface ResolvedLoadOptions {
  readonly model: DiTVariantName | undefined; // the DiT shapes of --model, whatever its family
  readonly family: ModelFamily | undefined; // --family, or the family --model names; undefined = from the checkpoint
  readonly modelName: string | undefined; // --model as canonically spelt, e.g. "SiT-XL/2"
  readonly ckpt: string | undefined; // undefined = the embedded model
  readonly config: string | undefined;
  readonly vae: string | undefined; // 'ema' | 'mse' | a path | 'none'; undefined = the default ('ema' for latent models)
  readonly imageSize: number | undefined;
  readonly numClasses: number | undefined;
  readonly device: Device;
  readonly threads: number | undefined;
  readonly dtype: DiTDtype;
  readonly attention: DiTAttentionForm;
  readonly maxMemoryBytes: number;
  readonly noCache: boolean;
  readonly cacheDir: string | undefined;
}

/** What to sample. All optional; defaults come from the loaded model (see ModelDefaults). */
export interface UserGenerateOptions {
  /** ImageNet (or the model's) class ids, e.g. [207]. */
  classLabels?: readonly number[] | string;
  /** Class names, e.g. ["golden retriever"]; resolved through the model's class table. */
  classes?: readonly string[] | string;
  /** Repeat the labels up to this many images, like `[207] * num_images` in the notebook. */
  numImages?: number | string;
  cfgScale?: number | string;
  numSamplingSteps?: number | string;
  sampler?: string;
  guidance?: string;
  /** Apply guidance only for original timesteps t in [lo, hi] (Kynkäänniemi et al. 2024). */
  guidanceInterval?: readonly [number, number] | string;
  spacing?: string;
  /** DDIM's eta (0 = deterministic). */
  eta?: number | string;
  seed?: number | bigint | string;
  samplesPerRow?: number | string;
}

export interface ResolvedGenerateOptions {
  readonly labels: readonly number[]; // one per image
  readonly cfgScale: number;
  readonly numSamplingSteps: number;
  readonly sampler: SamplerName;
  readonly guidance: GuidanceForm;
  readonly guidanceInterval: readonly [number, number] | undefined;
  readonly spacing: Spacing;
  readonly eta: number;
  readonly seed: bigint;
  readonly samplesPerRow: number;
}

/** What the loaded model says about valid values and defaults. */
export interface ModelDefaults {
  /** The loaded model's family; undefined (checks before a model is read): any, as the sampler says. */
  readonly family?: ModelFamily;
  /** The family's default guidance interval (REPA's README: t in [0, 0.7]). */
  readonly guidanceInterval?: readonly [number, number];
  readonly numClasses: number;
  readonly hasNullClass: boolean; // false: the model was trained without label dropout, no CFG
  readonly classTable: ClassTable | undefined;
  readonly classTableName: string;
  readonly inChannels: number;
  readonly labels: readonly number[];
  readonly cfgScale: number;
  readonly numSamplingSteps: number;
  readonly sampler: SamplerName;
  readonly samplesPerRow: number;
}

/** The notebook's defaults, for official checkpoints. */
export const NOTEBOOK_DEFAULTS = {
  cfgScale: 4,
  numSamplingSteps: 250,
  sampler: 'ddpm',
  samplesPerRow: 4,
  seed: 0n,
} as const;

/**
 * Each family's defaults, from its official sampling code: DiT's notebook; SiT's sample.py (ODE,
 * dopri5 over 250 output times, cfg 4, the mse VAE); REPA's README evaluation (SDE, 250 steps, cfg
 * 1.8 inside t ∈ [0, 0.7], the ema VAE).
 */
export const FAMILY_DEFAULTS = {
  dit: { sampler: NOTEBOOK_DEFAULTS.sampler, numSamplingSteps: NOTEBOOK_DEFAULTS.numSamplingSteps, cfgScale: NOTEBOOK_DEFAULTS.cfgScale, vae: 'ema', guidanceInterval: undefined },
  sit: { sampler: 'sit-ode-dopri5', numSamplingSteps: 250, cfgScale: 4, vae: 'mse', guidanceInterval: undefined },
  repa: { sampler: 'repa-sde', numSamplingSteps: 250, cfgScale: 1.8, vae: 'ema', guidanceInterval: [0, 0.7] },
} as const satisfies Record<ModelFamily, { sampler: SamplerName; numSamplingSteps: number; cfgScale: number; vae: 'ema' | 'mse'; guidanceInterval: readonly [number, number] | undefined }>;

/** The samplers written for a family (what a front end offers for the loaded model). */
export function samplersFor(family: ModelFamily): SamplerName[] {
  return SAMPLER_NAMES.filter((n) => samplerFamily(n) === family);
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag} "${value}" is not supported: must be one of ${allowed.join(', ')}`);
}

/** A string that is no number at all ("abc", "", "1,5"): said so, rather than "out of range". */
function notANumber(flag: string, value: unknown, what: string): UsageError | undefined {
  const isNumber = typeof value === 'number' ? !Number.isNaN(value) : typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value));
  return isNumber ? undefined : new UsageError(`${flag} ${JSON.stringify(value)} is not a number: must be ${what}`);
}

/** Strings must be written as plain integers (no 1e3, 0x10): what a user types is what is checked. */
function intInRange(flag: string, value: unknown, lo: number, hi: number, why = ''): number {
  const nan = notANumber(flag, value, `an integer in ${lo}..${hi}${why}`);
  if (nan) throw nan;
  const n = typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < lo || n > hi) {
    throw new UsageError(`${flag} ${JSON.stringify(value)} is out of range: must be an integer in ${lo}..${hi}${why}`);
  }
  return n;
}

/** A string written as a decimal number (1, -2.5, .5, 1e-3), else NaN: JavaScript's Number() also takes 0x10, 0b11, 0o7. */
function decimal(text: string): number {
  return /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(text) ? Number(text) : NaN;
}

function finiteNumber(flag: string, value: unknown, lo: number, hi: number, why = ''): number {
  const range = hi === Infinity ? `≥ ${lo}` : `in ${lo}..${hi}`;
  const nan = notANumber(flag, value, `a number ${range}${why}`);
  if (nan) throw nan;
  const n = typeof value === 'string' ? decimal(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < lo || n > hi) {
    throw new UsageError(`${flag} ${JSON.stringify(value)} is out of range: must be a number ${range}${why}`);
  }
  return n;
}

/**
 * Parses a seed as torch.manual_seed accepts it: an integer in −2^63..2^64−1. A negative seed stays
 * negative here; the generator reads it as PyTorch does (−1 gives the noise of 2^64−1).
 */
export function parseSeed(value: number | bigint | string): bigint {
  const text = String(value).trim();
  if (!/^[+-]?\d+$/.test(text) || (typeof value === 'number' && !Number.isSafeInteger(value))) {
    throw new UsageError(`--seed ${JSON.stringify(String(value))} is not a valid seed: must be an integer in ${MIN_SEED}..${MAX_SEED} (as torch.manual_seed takes)`);
  }
  const seed = BigInt(text);
  if (seed < MIN_SEED || seed > MAX_SEED) throw new UsageError(`--seed ${text} is out of range: must be an integer in ${MIN_SEED}..${MAX_SEED} (as torch.manual_seed takes)`);
  return seed;
}

/** A comma list; an empty item ("1,,2", "1,") is a typo, refused rather than skipped. */
function splitList(flag: string, value: readonly (string | number)[] | string, example: string): string[] {
  const items = (typeof value === 'string' ? value.split(',') : [...value].map(String)).map((s) => s.trim());
  if (items.every((s) => s === '')) throw new UsageError(`${flag} is empty: pass comma-separated ${example}`);
  const empty = items.indexOf('');
  if (empty >= 0) {
    throw new UsageError(`${flag} ${JSON.stringify(String(value))} has an empty item (number ${empty + 1}): pass comma-separated ${example}, with no empty place between commas`);
  }
  return items;
}

/**
 * `--classes`: comma-separated class names → ids, by the model's class table. The one resolver of
 * names: resolveGenerateOptions and the page's share links (`?classes=sneaker,bag`) both call it.
 */
export function resolveClasses(value: readonly string[] | string, model: Pick<ModelDefaults, 'classTable' | 'classTableName'>): number[] {
  const names = splitList('--classes', value, 'class names, e.g. --classes "golden retriever"');
  return resolveClassNames(names, model.classTable, model.classTableName);
}

/** A variant name as the user spells it (DiT-XL/2, dit-xl-2...) → the table's name. */
function modelOf(name: string): { family: ModelFamily; variant: DiTVariantName; name: string } {
  const found = findModel(name);
  if (!found) throw new UsageError(`--model "${name}" is not a known model: must be one of ${MODEL_NAMES.join(', ')}`);
  return { ...found, name: modelName(found.family, found.variant) };
}

const imageSizeOf = (value: number | string): number => intInRange('--image-size', value, 8, MAX_IMAGE_SIZE, ' (pixels; 256 or 512 for the official DiT)');
const samplesPerRowOf = (value: number | string): number => intInRange('--samples-per-row', value, 1, MAX_IMAGES);

/** A precision among `allowed`, and whether the device runs it (runtime/devices.ts DTYPE_DEVICES). */
function dtypeFor<T extends DiTDtype>(value: string | undefined, device: Device, allowed: readonly T[]): T {
  const dtype = oneOf('--dtype', value ?? DEFAULT_DTYPE, allowed);
  const devices: readonly Device[] = DTYPE_DEVICES[dtype];
  if (!devices.includes(device)) {
    const here = allowed.filter((d) => (DTYPE_DEVICES[d] as readonly Device[]).includes(device));
    throw new UsageError(`--dtype ${dtype} does not run on --device ${device}: it runs on ${devices.join(', ')}; use --device ${devices[0]}, or on ${device} --dtype ${here.join(' or ')}`);
  }
  return dtype;
}

/** The VAE precisions `dit decode --dtype` takes: those the VAE_DTYPE rule maps onto themselves (fp32, fp16). */
const DECODE_DTYPES = DIT_DTYPES.filter((d): d is DiTDtype & VaeDtype => (VAE_DTYPE[d] as string) === d);

/** `dit decode --dtype`: a VAE precision; q8 (a DiT precision only) is refused with what to use instead. */
function decodeDtypeFor(value: string | undefined, device: Device): VaeDtype {
  if (value !== undefined && (DIT_DTYPES as readonly string[]).includes(value) && !(DECODE_DTYPES as readonly string[]).includes(value)) {
    const vae = VAE_DTYPE[value as DiTDtype];
    throw new UsageError(`--dtype ${value} is a DiT precision only (under it the VAE decodes in ${vae}): dit decode takes --dtype ${DECODE_DTYPES.join(' or ')}; use --dtype ${vae}`);
  }
  return dtypeFor(value, device, DECODE_DTYPES);
}

export function resolveLoadOptions(user: UserLoadOptions = {}): ResolvedLoadOptions {
  const named = user.model === undefined ? undefined : modelOf(user.model);
  const family = user.family === undefined ? named?.family : oneOf('--family', user.family, MODEL_FAMILIES);
  if (named && family !== named.family) {
    throw new UsageError(`--family ${family} contradicts --model ${named.name}, a ${FAMILY_TITLE[named.family]} model; pass --model ${modelName(family!, named.variant)} or leave --family out`);
  }
  const model = named?.variant;
  const imageSize = user.imageSize === undefined ? undefined : imageSizeOf(user.imageSize);
  const numClasses = user.numClasses === undefined ? undefined : intInRange('--num-classes', user.numClasses, 1, MAX_NUM_CLASSES);
  const device = oneOf('--device', user.device ?? DEFAULT_DEVICE, DEVICE_NAMES);
  const threads = user.threads === undefined ? undefined : intInRange('--threads', user.threads, 1, MAX_THREADS);
  const dtype = dtypeFor(user.dtype, device, DIT_DTYPES);
  const attention = oneOf('--attention', user.attention ?? DEFAULT_ATTENTION[device], DIT_ATTENTION_FORMS);
  const maxMemoryBytes = finiteNumber('--max-memory', user.maxMemory ?? DEFAULT_MAX_MEMORY_GB, 0.0001, 1024, ' (GiB of working memory for one VAE decode call)') * 2 ** 30;
  return Object.freeze({
    model,
    family,
    modelName: named?.name,
    ckpt: user.ckpt,
    config: user.config,
    vae: user.vae,
    imageSize,
    numClasses,
    device,
    threads,
    dtype,
    attention,
    maxMemoryBytes,
    noCache: user.noCache ?? false,
    cacheDir: user.cacheDir,
  });
}

/**
 * What the generate options can be checked against before any model is read: every value that does
 * not depend on the model (steps, scales, names of samplers, seeds, class ids' syntax, ...). The
 * same resolver runs with defaults that accept any class id; class names, the class range and the
 * null class are checked once the checkpoint's header is read (see createPipeline's beforeBuild).
 */
export function checkGenerateOptionsEarly(user: UserGenerateOptions): void {
  const ignored = ignoredGenerateOptions(user);
  if (ignored.length > 0) throw new UsageError(ignored[0]!);
}

/**
 * checkGenerateOptionsEarly's checks, and then values that are valid but would change nothing (an
 * eta no sampler but ddim reads, a guidance scale with guidance off): their messages, for a front
 * end to refuse (the CLI) or to warn about. `dit sweep` refuses one only when no cell uses it.
 */
export function ignoredGenerateOptions(user: UserGenerateOptions): string[] {
  const { classes: _names, ...rest } = user;
  const o = resolveGenerateOptions(rest, ANY_MODEL);
  const out: string[] = [];
  if (user.eta !== undefined && o.eta !== 0 && o.sampler !== 'ddim') {
    out.push(`--eta ${o.eta} has no effect with --sampler ${o.sampler}: only ddim uses eta; pass --sampler ddim or leave --eta out`);
  }
  if (user.cfgScale !== undefined && o.cfgScale !== 1 && o.guidance === 'off') {
    out.push(`--cfg-scale ${o.cfgScale} has no effect with --guidance off (no guidance is applied); leave one of them out`);
  }
  return out;
}

/** Defaults that accept every class id and guidance: for checks that cannot know the model yet. */
const ANY_MODEL: ModelDefaults = Object.freeze({
  numClasses: Number.MAX_SAFE_INTEGER,
  hasNullClass: true,
  classTable: undefined,
  classTableName: 'any model',
  inChannels: 4,
  labels: [0],
  cfgScale: NOTEBOOK_DEFAULTS.cfgScale,
  numSamplingSteps: NOTEBOOK_DEFAULTS.numSamplingSteps,
  sampler: NOTEBOOK_DEFAULTS.sampler,
  samplesPerRow: NOTEBOOK_DEFAULTS.samplesPerRow,
});

export function resolveGenerateOptions(user: UserGenerateOptions, model: ModelDefaults): ResolvedGenerateOptions {
  // Values that do not depend on labels first, so a bad slider value fails before anything else.
  const numSamplingSteps =
    user.numSamplingSteps === undefined
      ? model.numSamplingSteps
      : intInRange('--num-sampling-steps', user.numSamplingSteps, 1, MAX_SAMPLING_STEPS, ' (the model was trained with 1000 timesteps; 0 is not a run)');
  const cfgScale =
    user.cfgScale === undefined ? model.cfgScale : finiteNumber('--cfg-scale', user.cfgScale, 0, MAX_CFG_SCALE, ' (1 = no guidance; the notebook slider spans 1..10)');
  const sampler = oneOf('--sampler', user.sampler ?? model.sampler, SAMPLER_NAMES);
  const family = model.family ?? samplerFamily(sampler);
  if (samplerFamily(sampler) !== family) {
    const fits = samplersFor(family);
    throw new UsageError(
      `--sampler ${sampler} is a ${FAMILY_TITLE[samplerFamily(sampler)]} sampler, and this is a ${FAMILY_TITLE[family]} model; pass --sampler ${fits.join('|')} or leave --sampler out (default ${model.sampler})`,
    );
  }
  // SiT's forward_with_cfg guides channels 0..2 like DiT's; REPA guides every channel.
  const defaultGuidance: GuidanceForm = family === 'repa' || !isLatentDiT({ in_channels: model.inChannels }) ? 'all' : 'dit';
  let guidance = oneOf('--guidance', user.guidance ?? defaultGuidance, GUIDANCE_FORMS);
  if (family === 'repa' && guidance === 'dit') {
    throw new UsageError("--guidance dit (channels 0..2 only) is not REPA's form: REPA guides every channel; pass --guidance all or off");
  }
  const spacing = oneOf('--spacing', user.spacing ?? 'uniform', TIMESTEP_SPACINGS);
  if (spacing === 'ddim' && ddimStride(numSamplingSteps) === undefined) {
    throw new UsageError(
      `--num-sampling-steps ${numSamplingSteps} cannot be laid out with --spacing ddim (no integer stride gives exactly that many of 1000 steps); use a count near it that can (${nearbyDdimCounts(numSamplingSteps).join(', ')}) or --spacing uniform`,
    );
  }
  const eta = user.eta === undefined ? 0 : finiteNumber('--eta', user.eta, 0, 1);
  const seed = user.seed === undefined ? NOTEBOOK_DEFAULTS.seed : parseSeed(user.seed);
  const samplesPerRow = user.samplesPerRow === undefined ? model.samplesPerRow : samplesPerRowOf(user.samplesPerRow);

  let guidanceInterval: [number, number] | undefined = model.guidanceInterval && [...model.guidanceInterval];
  if (user.guidanceInterval !== undefined) {
    if (family === 'sit') {
      throw new UsageError("--guidance-interval: SiT's samplers guide at every step (the interval is REPA's and DiT's); leave it out");
    }
    // DiT: original timesteps 0 … 999 (999 = noise); REPA: its t in [0, 1] (1 = noise).
    const [max, unit, example] = family === 'repa' ? [1, 'times t (REPA: 1 = noise)', '0,0.7'] : [TRAIN_TIMESTEPS - 1, 'timesteps', '0,700'];
    const parts = typeof user.guidanceInterval === 'string' ? user.guidanceInterval.split(',') : [...user.guidanceInterval];
    const nums = parts.map((p) => (typeof p === 'string' ? decimal(p) : Number(p)));
    if (nums.length !== 2 || nums.some((n) => !Number.isFinite(n)) || nums[0]! < 0 || nums[1]! > max || nums[0]! > nums[1]!) {
      throw new UsageError(
        `--guidance-interval ${JSON.stringify(String(user.guidanceInterval))} is not valid: must be "lo,hi" ${unit} with 0 ≤ lo ≤ hi ≤ ${max} (e.g. ${example})`,
      );
    }
    guidanceInterval = [nums[0]!, nums[1]!];
  }

  if (!model.hasNullClass && guidance !== 'off' && cfgScale !== 1 && (user.cfgScale !== undefined || user.guidance !== undefined)) {
    throw new UsageError(
      `--cfg-scale ${cfgScale} needs a model trained with label dropout (a null-class row), and this one has none; use --cfg-scale 1 or --guidance off`,
    );
  }
  if (!model.hasNullClass) guidance = 'off';

  // Labels: ids, names, or the model's defaults; then repeated up to --num-images.
  if (user.classLabels !== undefined && user.classes !== undefined) {
    throw new UsageError('--class-labels and --classes were both given: pass one of them');
  }
  let labels: number[];
  if (user.classLabels !== undefined) {
    const items = splitList('--class-labels', user.classLabels, 'class ids, e.g. --class-labels 207,360');
    labels = items.map((s) => {
      if (/^[a-z]/i.test(s)) {
        throw new UsageError(`--class-labels "${s}" is not a class id: --class-labels takes ids (numbers); pass names with --classes, e.g. --classes "${s}"`);
      }
      return intInRange('--class-labels', /^\d+$/.test(s) ? Number(s) : s, 0, model.numClasses - 1, ` (this model has ${model.numClasses} classes)`);
    });
  } else if (user.classes !== undefined) {
    labels = resolveClasses(user.classes, model);
  } else {
    labels = [...model.labels];
  }
  if (user.numImages !== undefined) {
    const n = intInRange('--num-images', user.numImages, 1, MAX_IMAGES);
    labels = Array.from({ length: n }, (_, i) => labels[i % labels.length]!);
  }
  if (labels.length > MAX_IMAGES) {
    throw new UsageError(`${labels.length} images were asked for: at most ${MAX_IMAGES} per run; split the run or lower --num-images`);
  }

  return Object.freeze({
    labels: Object.freeze(labels),
    cfgScale,
    numSamplingSteps,
    sampler,
    guidance,
    guidanceInterval: guidanceInterval ? (Object.freeze(guidanceInterval) as readonly [number, number]) : undefined,
    spacing,
    eta,
    seed,
    samplesPerRow,
  });
}

/** `dit decode`: saved latents → images. The VAE and the files are paths, checked where they are read. */
export interface UserDecodeOptions extends Pick<UserLoadOptions, 'device' | 'threads' | 'dtype' | 'noCache' | 'cacheDir' | 'maxMemory'> {
  samplesPerRow?: number | string;
  /** Decode latents larger than tile×tile in overlapping tiles (latent pixels per side). */
  tile?: number | string;
}

export interface ResolvedDecodeOptions extends Pick<ResolvedLoadOptions, 'device' | 'threads' | 'noCache' | 'cacheDir' | 'maxMemoryBytes'> {
  /** The VAE's precision: fp32 or fp16 (VAE_DTYPES). */
  readonly dtype: VaeDtype;
  readonly samplesPerRow: number;
  readonly tile: number | undefined;
}

export const DECODE_DEFAULTS = { samplesPerRow: 4 } as const;

export function resolveDecodeOptions(user: UserDecodeOptions = {}): ResolvedDecodeOptions {
  const { device, threads, noCache, cacheDir, maxMemoryBytes } = resolveLoadOptions({
    device: user.device,
    threads: user.threads,
    noCache: user.noCache,
    cacheDir: user.cacheDir,
    maxMemory: user.maxMemory,
  });
  return Object.freeze({
    device,
    threads,
    dtype: decodeDtypeFor(user.dtype, device),
    noCache,
    cacheDir,
    maxMemoryBytes,
    samplesPerRow: samplesPerRowOf(user.samplesPerRow ?? DECODE_DEFAULTS.samplesPerRow),
    tile: user.tile === undefined ? undefined : intInRange('--tile', user.tile, 2, 4096, ' (latent pixels per tile side, e.g. 32 for 256-pixel tiles)'),
  });
}

/** `dit fid`: images per Inception forward, and where to run it. */
export interface UserFidOptions extends Pick<UserLoadOptions, 'device' | 'threads' | 'cacheDir'> {
  batchSize?: number | string;
}

export interface ResolvedFidOptions extends Pick<ResolvedLoadOptions, 'device' | 'threads' | 'cacheDir'> {
  readonly batchSize: number;
}

/** pytorch-fid's default --batch-size is 50; 32 keeps a CPU batch's activations near 1 GB. */
export const FID_DEFAULTS = { batchSize: 32 } as const;
export const MAX_FID_BATCH = 512;

export function resolveFidOptions(user: UserFidOptions = {}): ResolvedFidOptions {
  const { device, threads, cacheDir } = resolveLoadOptions({ device: user.device, threads: user.threads, cacheDir: user.cacheDir });
  return Object.freeze({
    device,
    threads,
    cacheDir,
    batchSize: intInRange('--batch-size', user.batchSize ?? FID_DEFAULTS.batchSize, 1, MAX_FID_BATCH, ' (images per Inception forward)'),
  });
}

export { DIT_ATTENTION_FORMS as ATTENTION_FORMS, type DiTAttentionForm as AttentionForm } from './models/dit-config.js';
export { GRAPH_OPTIMIZATION_LEVELS };

/** `dit bench`: a named variant's forward pass with random weights. */
export interface UserBenchOptions extends Pick<UserLoadOptions, 'model' | 'imageSize' | 'device' | 'threads' | 'dtype' | 'attention'> {
  /** Images per forward (2 = one image with guidance). */
  batch?: number | string;
  /** Timed forwards after one warm-up. */
  repeats?: number | string;
  optLevel?: string;
}

export interface ResolvedBenchOptions extends Pick<ResolvedLoadOptions, 'device' | 'threads' | 'dtype' | 'attention'> {
  readonly model: DiTVariantName;
  readonly config: DiTConfig;
  readonly batch: number;
  readonly repeats: number;
  readonly graphOptimizationLevel: GraphOptimizationLevel;
}

export const BENCH_DEFAULTS = { model: 'DiT-XL/2', imageSize: 256, batch: 2, repeats: 5, optLevel: 'all' } as const;

export function resolveBenchOptions(user: UserBenchOptions = {}): ResolvedBenchOptions {
  const load = resolveLoadOptions({
    model: user.model ?? BENCH_DEFAULTS.model,
    imageSize: user.imageSize ?? BENCH_DEFAULTS.imageSize,
    device: user.device,
    threads: user.threads,
    dtype: user.dtype,
    attention: user.attention,
  });
  const model = load.model!;
  const size = load.imageSize!;
  // Named variants sample SD-VAE latents: the image side must cut into whole latent patches.
  const base = ditConfigFor(model);
  const pixelsPerToken = pixelsPerCell(base) * base.patch_size;
  if (size % pixelsPerToken !== 0) {
    throw new UsageError(
      `--image-size ${size} cannot be cut into ${model}'s tokens: it must be a multiple of ${pixelsPerToken} (latent = image / ${pixelsPerCell(base)}, patch ${base.patch_size})`,
    );
  }
  return Object.freeze({
    model,
    config: ditConfigFor(model, { input_size: size / pixelsPerCell(base) }),
    device: load.device,
    threads: load.threads,
    dtype: load.dtype,
    batch: intInRange('--batch', user.batch ?? BENCH_DEFAULTS.batch, 1, 1024, ' (2 = one image with guidance)'),
    attention: load.attention,
    repeats: intInRange('--repeats', user.repeats ?? BENCH_DEFAULTS.repeats, 1, 1000),
    graphOptimizationLevel: oneOf('--opt-level', user.optLevel ?? BENCH_DEFAULTS.optLevel, GRAPH_OPTIMIZATION_LEVELS),
  });
}

/** `dit serve`: where to listen and how much one page may ask for. */
export interface UserServeOptions {
  port?: number | string;
  host?: string;
  maxImages?: number | string;
  maxQueue?: number | string;
}

export interface ResolvedServeOptions {
  readonly port: number;
  readonly host: string;
  readonly maxImages: number;
  readonly maxQueue: number;
}

/** `dit serve`: max images per request is well under MAX_IMAGES, so one request cannot hold the queue for long. */
export const SERVE_DEFAULTS = { port: 7860, host: '127.0.0.1', maxImages: 64, maxQueue: 8 } as const;

export function resolveServeOptions(user: UserServeOptions = {}): ResolvedServeOptions {
  const port = intInRange('--port', user.port ?? SERVE_DEFAULTS.port, 0, 65535, ' (0 picks a free port)');
  const maxImages = intInRange('--max-images', user.maxImages ?? SERVE_DEFAULTS.maxImages, 1, MAX_IMAGES, ' (images per request)');
  const maxQueue = intInRange('--max-queue', user.maxQueue ?? SERVE_DEFAULTS.maxQueue, 1, 1000, ' (jobs waiting or running)');
  const host = (user.host ?? SERVE_DEFAULTS.host).trim();
  if (host === '') throw new UsageError('--host is empty: pass an address such as 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)');
  return Object.freeze({ port, host, maxImages, maxQueue });
}

/** `dit generate`: many images, each a pure function of (seed, index) (bulk/plan.ts). */
export interface UserBulkOptions {
  numSamples?: number | string;
  /** Images per DiT forward pass (times 2 under guidance); changes speed and memory, never an image. */
  batchSize?: number | string;
  /** `balanced` (default: classes in turn) or `random` (uniform per image, as sample_ddp.py). */
  labels?: string;
  /** "K/M": write shard K (0-based) of M. */
  shard?: string;
  /** M when the shard index comes from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job). */
  numShards?: number | string;
  /** The environment, for the shard indexes that job schedulers set (JOB_COMPLETION_INDEX, SLURM_ARRAY_*). */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface ResolvedBulkOptions {
  readonly numSamples: number;
  readonly batchSize: number;
  readonly labels: LabelMode;
  /** Which shard this process writes, and where that came from (for messages); undefined = all. */
  readonly shard: { readonly index: number; readonly count: number; readonly source: string } | undefined;
}

export const MAX_BULK_SAMPLES = 10_000_000;
export const MAX_SHARDS = 100_000;
export const BULK_DEFAULTS = { batchSize: 16, labels: 'balanced' } as const;
export { LABEL_MODES, type LabelMode } from './bulk/plan.js';

/** K of M with 0 ≤ K < M, from whichever source gave it; one message for every source. */
function shardOf(source: string, index: string, count: string): { index: number; count: number; source: string } {
  const k = /^\s*\d+\s*$/.test(index) ? Number(index) : NaN;
  const m = /^\s*\d+\s*$/.test(count) ? Number(count) : NaN;
  if (!Number.isSafeInteger(k) || !Number.isSafeInteger(m) || m < 1 || m > MAX_SHARDS || k >= m) {
    throw new UsageError(
      `${source} is not a valid shard: shard K of M needs whole numbers 0 ≤ K < M ≤ ${MAX_SHARDS} (shards count from 0, like JOB_COMPLETION_INDEX), e.g. --shard 0/4 … --shard 3/4`,
    );
  }
  return { index: k, count: m, source };
}

/**
 * The shard: --shard K/M first; else SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN of
 * SLURM_ARRAY_TASK_COUNT (a Slurm job array); else JOB_COMPLETION_INDEX of --num-shards (a
 * Kubernetes Indexed Job, whose completions count is not in the environment).
 */
function resolveShard(user: UserBulkOptions): ResolvedBulkOptions['shard'] {
  const env = user.env ?? {};
  if (user.shard !== undefined) {
    const m = /^\s*([^/]*)\/([^/]*)$/.exec(user.shard);
    if (!m) throw new UsageError(`--shard ${JSON.stringify(user.shard)} is not K/M: pass the shard index and count, e.g. --shard 0/4 … --shard 3/4`);
    if (user.numShards !== undefined) throw new UsageError('--shard K/M and --num-shards were both given: --shard already says the count; drop --num-shards');
    return shardOf(`--shard ${user.shard}`, m[1]!, m[2]!);
  }
  const slurmId = env.SLURM_ARRAY_TASK_ID;
  if (slurmId !== undefined && slurmId !== '') {
    const count = env.SLURM_ARRAY_TASK_COUNT;
    if (count === undefined || count === '') throw new UsageError(`SLURM_ARRAY_TASK_ID=${slurmId} is set but SLURM_ARRAY_TASK_COUNT is not: run inside a job array (sbatch --array=0-3) or pass --shard K/M`);
    const min = env.SLURM_ARRAY_TASK_MIN;
    const offset = min !== undefined && /^\s*\d+\s*$/.test(min) ? Number(min) : 0;
    const id = /^\s*\d+\s*$/.test(slurmId) ? String(Number(slurmId) - offset) : slurmId;
    return shardOf(`SLURM_ARRAY_TASK_ID=${slurmId} (SLURM_ARRAY_TASK_MIN=${min ?? 'unset'}, SLURM_ARRAY_TASK_COUNT=${count}; the array must be consecutive, e.g. --array=0-3)`, id, count);
  }
  const jobIndex = env.JOB_COMPLETION_INDEX;
  if (jobIndex !== undefined && jobIndex !== '') {
    if (user.numShards === undefined) throw new UsageError(`JOB_COMPLETION_INDEX=${jobIndex} is set (a Kubernetes Indexed Job) but not the shard count: pass --num-shards M, the Job's completions`);
    return shardOf(`JOB_COMPLETION_INDEX=${jobIndex} of --num-shards ${user.numShards}`, jobIndex, String(user.numShards));
  }
  if (user.numShards !== undefined) throw new UsageError(`--num-shards ${user.numShards} needs JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) for the index: outside one, pass --shard K/M`);
  return undefined;
}

export function resolveBulkOptions(user: UserBulkOptions): ResolvedBulkOptions {
  if (user.numSamples === undefined) throw new UsageError('--num-samples is missing: say how many images to write, e.g. --num-samples 10000');
  const numSamples = intInRange('--num-samples', user.numSamples, 1, MAX_BULK_SAMPLES);
  const batchSize = intInRange('--batch-size', user.batchSize ?? BULK_DEFAULTS.batchSize, 1, MAX_IMAGES, ' (images per forward pass; it changes speed and memory, not the images)');
  const labels = oneOf('--labels', user.labels ?? BULK_DEFAULTS.labels, LABEL_MODES);
  return Object.freeze({ numSamples, batchSize, labels, shard: resolveShard(user) });
}

/** `dit generate --queue` and `dit worker`: a BullMQ work queue on Redis (bulk/queue.ts). */
export interface UserQueueOptions {
  /** redis://[user:password@]HOST[:PORT][/DB] (rediss:// for TLS). */
  queue?: string;
  /** Images per queue job (a chunk); a retried chunk redoes only its missing images. */
  chunkSize?: number | string;
  /** Seconds a worker's lock on a chunk lasts without renewal: how soon a dead worker's chunk goes to another. */
  lockDuration?: number | string;
}

/** Where Redis is, from --queue; `display` names it without the password (for messages). */
export interface ResolvedRedisUrl {
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: boolean;
  readonly display: string;
}

export interface ResolvedQueueOptions {
  readonly redis: ResolvedRedisUrl;
  readonly chunkSize: number;
  readonly lockSeconds: number;
}

export const QUEUE_DEFAULTS = { chunkSize: 64, lockDuration: 60 } as const;
/** Redis's databases are numbered 0..databases − 1 (16 by default; servers may configure more). */
const MAX_REDIS_DB = 1_000_000;

export function resolveRedisUrl(value: string): ResolvedRedisUrl {
  const bad = (why: string) => new UsageError(`--queue ${JSON.stringify(value)} is not a Redis URL (${why}): pass redis://HOST:PORT[/DB], e.g. --queue redis://127.0.0.1:6379/0`);
  if (!value.includes('://')) throw bad('it does not start with redis://');
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw bad('it does not parse as a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw bad(`the scheme is ${url.protocol.replace(/:$/, '') || 'missing'}, not redis or rediss`);
  if (url.hostname === '') throw bad('no host');
  if (url.search !== '' || url.hash !== '') throw bad('options after ? or # are not read');
  const port = url.port === '' ? 6379 : Number(url.port);
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText !== '' && !/^\d+$/.test(dbText)) throw bad(`the database ${JSON.stringify(dbText)} is not a number`);
  const db = dbText === '' ? 0 : Number(dbText);
  if (db > MAX_REDIS_DB) throw bad(`database ${db} is out of range`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return Object.freeze({
    host,
    port,
    db,
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    tls: url.protocol === 'rediss:',
    display: `${url.protocol}//${url.host}/${db}`,
  });
}

export function resolveQueueOptions(user: UserQueueOptions): ResolvedQueueOptions {
  if (user.queue === undefined) throw new UsageError('--queue is missing: name the Redis server, e.g. --queue redis://127.0.0.1:6379');
  const redis = resolveRedisUrl(user.queue);
  const chunkSize = intInRange('--chunk-size', user.chunkSize ?? QUEUE_DEFAULTS.chunkSize, 1, MAX_BULK_SAMPLES, ' (images per queue job)');
  const lockSeconds = intInRange('--lock-duration', user.lockDuration ?? QUEUE_DEFAULTS.lockDuration, 1, 3600, ' (seconds before a silent worker\'s chunk goes to another)');
  return Object.freeze({ redis, chunkSize, lockSeconds });
}
