/**
 * The flags of the `dit` commands, each declared once: the same spelling and wording in every
 * command that takes it. Values stay the strings commander gives; options.ts converts and validates
 * them and owns the defaults, which commands pass here only so that --help shows them.
 */
import { Option, type Command } from 'commander';
import { MODEL_FAMILIES, MODEL_NAMES } from '../models/dit-config.js';
import {
  ATTENTION_FORMS,
  DEFAULT_ATTENTION,
  DEFAULT_DEVICE,
  DEFAULT_DTYPE,
  DEFAULT_MAX_MEMORY_GB,
  DEVICES,
  DTYPES,
  FAMILY_DEFAULTS,
  GUIDANCE_FORMS,
  MAX_SAMPLING_STEPS,
  NOTEBOOK_DEFAULTS,
  SAMPLERS,
  SPACINGS,
  type UserGenerateOptions,
  type UserLoadOptions,
  BULK_DEFAULTS,
  LABEL_MODES,
  type UserBulkOptions,
  QUEUE_DEFAULTS,
  type UserQueueOptions,
} from '../options.js';
import { EMBEDDED_DEFAULTS } from '../pipeline.js';

type FlagSpec = readonly [flags: string, description: string, defaultValue?: string];

/** "fused on cpu and cuda, plain on webgpu": DEFAULT_ATTENTION in words (the default depends on --device). */
function attentionDefaults(): string {
  return ATTENTION_FORMS.map((form) => [form, DEVICES.filter((d) => DEFAULT_ATTENTION[d] === form)] as const)
    .filter(([, devices]) => devices.length > 0)
    .map(([form, devices]) => `${form} on ${devices.join(' and ')}`)
    .join(', ');
}

/** What to load and where to run it (options.ts: UserLoadOptions). */
const LOAD_FLAGS = {
  model: ['--model <name>', `model: ${MODEL_NAMES.join(', ')} (DiT-XL-2 spells DiT-XL/2 too)`],
  family: [`--family <${MODEL_FAMILIES.join('|')}>`, "what a --ckpt was trained as, when its config.json does not say (SiT's weights look like DiT's; REPA is recognised by its projectors)"],
  ckpt: ['--ckpt <path>', 'checkpoint file or folder (.pt, .pth, .bin, .safetensors, diffusers folder); default: the official weights of --model from the cache folder, else the embedded Fashion-MNIST model'],
  config: ['--config <file>', 'config.json with the DiT constructor arguments (num_heads...)'],
  vae: ['--vae <ema|mse|path|none>', 'VAE for latent models: ema or mse (the official VAE in the cache folder), a folder (config.json + weights) or weights file, or none (keep latents only)'],
  imageSize: ['--image-size <px>', 'image size in pixels (256 or 512 for the official DiT-XL/2)'],
  numClasses: ['--num-classes <n>', 'number of classes (checked against the checkpoint)'],
  device: [`--device <${DEVICES.join('|')}>`, 'where to run', DEFAULT_DEVICE],
  threads: ['--threads <n>', "CPU threads for ONNX Runtime (default: ONNX Runtime's choice, one per physical core)"],
  dtype: [`--dtype <${DTYPES.join('|')}>`, "precision: fp32 (the official code's numbers), q8 (int8 DiT linear layers, CPU only; the VAE stays fp32) or fp16 (float16 weights and compute, DiT and VAE; webgpu, cuda); q8 and fp16 are close to fp32, not the same images", DEFAULT_DTYPE],
  attention: [
    `--attention <${ATTENTION_FORMS.join('|')}>`,
    `how the DiT computes attention: fused (one com.microsoft.MultiHeadAttention node) or plain (MatMul, Softmax, MatMul), the same numbers to float rounding except on Mesa lavapipe, whose WebGPU fused form is wrong from 32 tokens on; default: ${attentionDefaults()}`,
  ],
  maxMemory: ['--max-memory <GB>', 'working memory one VAE decode call may take, in GiB (fewer images per call below it; a latent over it alone is refused: use --tile)', String(DEFAULT_MAX_MEMORY_GB)],
  noCache: ['--no-cache', 'rebuild the ONNX model instead of reusing the compiled-model cache'],
  cacheDir: ['--cache-dir <dir>', 'cache folder for downloaded weights and compiled models (default $DIT_CACHE_DIR, else $XDG_CACHE_HOME/dit-ts, else ~/.cache/dit-ts)'],
} as const satisfies Record<keyof UserLoadOptions, FlagSpec>;

/** What to sample (options.ts: UserGenerateOptions). */
const GENERATE_FLAGS = {
  classLabels: ['--class-labels <ids>', 'class ids, comma-separated, e.g. 207,360 (as in the notebook)'],
  classes: ['--classes <names>', 'class names, comma-separated, e.g. "golden retriever" or "sneaker"'],
  numImages: ['--num-images <n>', 'repeat the labels up to this many images (like [207] * n)'],
  // Defaults that depend on the model are stated in words: passing them to commander would override the model's.
  cfgScale: ['--cfg-scale <s>', `classifier-free guidance scale (default ${NOTEBOOK_DEFAULTS.cfgScale}; 1 = none; notebook slider 1..10)`],
  numSamplingSteps: ['--num-sampling-steps <n>', `sampling steps, 1..${MAX_SAMPLING_STEPS} (default ${NOTEBOOK_DEFAULTS.numSamplingSteps}; the embedded model: ${EMBEDDED_DEFAULTS.numSamplingSteps})`],
  sampler: ['--sampler <name>', `${SAMPLERS.join(' | ')} (the family's: DiT ${FAMILY_DEFAULTS.dit.sampler}, SiT ${FAMILY_DEFAULTS.sit.sampler}, REPA ${FAMILY_DEFAULTS.repa.sampler} by default)`],
  guidance: ['--guidance <form>', `${GUIDANCE_FORMS.join(' | ')} (default: dit for 4-channel latent models, the official form on the first 3 channels; all for pixel models)`],
  guidanceInterval: ['--guidance-interval <lo,hi>', `apply guidance only for timesteps in [lo, hi] (DiT: 0..999, default every step, the embedded model: ${EMBEDDED_DEFAULTS.guidanceInterval.join(',')}; REPA: its t in 0..1, default 0,0.7)`],
  spacing: [`--spacing <${SPACINGS.join('|')}>`, 'timestep respacing: uniform ("N", the default) or ddim ("ddimN")'],
  eta: ['--eta <x>', 'DDIM eta (default 0 = deterministic)'],
  seed: ['--seed <n>', 'random seed (torch.manual_seed), default 0'],
  samplesPerRow: ['--samples-per-row <n>', `grid columns (default ${NOTEBOOK_DEFAULTS.samplesPerRow})`],
} as const satisfies Record<keyof UserGenerateOptions, FlagSpec>;

/** What to write, and how much to say. */
const OUTPUT_FLAGS = {
  out: ['--out <file>', 'the grid PNG'],
  saveEach: ['--save-each <dir>', 'also write one PNG per image into this folder'],
  saveLatents: ['--save-latents <file>', 'also write the final latents (kept half, float32 .npy)'],
  saveImages: ['--save-images <file>', "write the decoder's float output (N, 3, H, W), before clamping, as .npy"],
  quiet: ['--quiet', 'no progress output or log lines'],
  json: ['--json', 'print one JSON line only'],
} as const satisfies Record<string, FlagSpec>;

/** `dit generate`: many images into a folder (options.ts: UserBulkOptions). */
const BULK_FLAGS = {
  numSamples: ['--num-samples <n>', 'how many images to write (image i depends only on --seed and i)'],
  batchSize: ['--batch-size <n>', 'images per forward pass (speed and memory only: no image changes with it)', String(BULK_DEFAULTS.batchSize)],
  labels: [`--labels <${LABEL_MODES.join('|')}>`, 'balanced: the classes in turn (i mod K); random: uniform per image, as sample_ddp.py', BULK_DEFAULTS.labels],
  shard: ['--shard <K/M>', 'write only shard K (0-based) of M; default from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX'],
  numShards: ['--num-shards <M>', 'the shard count M when the index comes from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job)'],
} as const satisfies Record<Exclude<keyof UserBulkOptions, 'env'>, FlagSpec>;

/** `dit generate --queue` and `dit worker`: a BullMQ queue on Redis (options.ts: UserQueueOptions). */
const QUEUE_FLAGS = {
  queue: ['--queue <redis://HOST:PORT[/DB]>', 'the Redis server of a work queue: dit generate enqueues chunks there, dit worker takes them'],
  chunkSize: ['--chunk-size <n>', 'images per queue job (a worker that dies loses at most one chunk\'s unwritten images)', String(QUEUE_DEFAULTS.chunkSize)],
  lockDuration: ['--lock-duration <s>', 'seconds a worker holds a chunk without renewing its lock: a dead worker\'s chunk goes to another after about this long', String(QUEUE_DEFAULTS.lockDuration)],
} as const satisfies Record<keyof UserQueueOptions, FlagSpec>;

const FLAGS = { ...LOAD_FLAGS, ...GENERATE_FLAGS, ...OUTPUT_FLAGS, ...BULK_FLAGS, ...QUEUE_FLAGS };
export type FlagName = keyof typeof FLAGS;
export const FLAG_NAMES = Object.keys(FLAGS) as FlagName[];
export const LOAD_FLAG_NAMES = Object.keys(LOAD_FLAGS) as Array<keyof typeof LOAD_FLAGS>;
export const GENERATE_FLAG_NAMES = Object.keys(GENERATE_FLAGS) as Array<keyof typeof GENERATE_FLAGS>;
export const BULK_FLAG_NAMES = Object.keys(BULK_FLAGS) as Array<keyof typeof BULK_FLAGS>;
export const QUEUE_FLAG_NAMES = Object.keys(QUEUE_FLAGS) as Array<keyof typeof QUEUE_FLAGS>;

/**
 * One flag as a commander option. A default (options.ts's, so --help shows it) reaches the action
 * as a string, like a typed value.
 */
export function flag(name: FlagName, defaultValue?: string | number): Option {
  const [flags, description, specDefault] = FLAGS[name] as FlagSpec;
  const value = defaultValue ?? specDefault;
  const option = new Option(flags, description);
  return value === undefined ? option : option.default(String(value));
}

/** Adds flags to a command, in the order given. */
export function addFlags<K extends FlagName>(cmd: Command, names: readonly K[], defaults: Partial<Record<K, string | number>> = {}): Command {
  for (const name of names) cmd.addOption(flag(name, defaults[name]));
  return cmd;
}

/** The values commander hands an action: strings, and `cache` false for --no-cache. */
export type LoadFlags = { [K in Exclude<keyof UserLoadOptions, 'noCache'>]?: string } & { cache?: boolean };
export type GenerateFlags = { [K in keyof UserGenerateOptions]?: string };

export function loadOptionsFrom(flags: LoadFlags): UserLoadOptions {
  const { cache, ...rest } = flags;
  return { ...pick(rest, LOAD_FLAG_NAMES), noCache: cache === false };
}

/** The generate options alone, still strings (a UserGenerateOptions; `dit sweep` splits its lists). */
export function generateOptionsFrom(flags: GenerateFlags): GenerateFlags {
  return pick(flags, GENERATE_FLAG_NAMES);
}

/** The given keys of `flags` that are set (a command's action also receives its other flags). */
function pick<T extends object, K extends string>(flags: T, keys: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const k of keys) {
    const v = (flags as Record<string, unknown>)[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}
