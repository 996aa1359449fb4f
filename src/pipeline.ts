/**
 * The one main path every front end uses (CLI, server, library):
 *
 *   createPipeline(load)      checkpoint → config → ONNX session (cached), VAE session, class table
 *   pipeline.generate(opts)   1. resolve options   2. initial noise (torch.manual_seed + randn)
 *                             3. guided model      4. sampler loop   5. learned-sigma split (inside
 *                             the samplers)        6. VAE decode     7. grid + PNG
 *
 * Reproducing the official code: `z = randn(N, C, H, W)` right after seeding; with guidance the
 * model batch is [z, z] with labels [y, null] and every sampler step draws noise for that whole
 * doubled batch (of which the first half is used), exactly as `p_sample_loop(forward_with_cfg)`.
 */
import { assert, DitError, UsageError } from './errors.js';
import {
  NOTEBOOK_DEFAULTS,
  resolveGenerateOptions,
  resolveLoadOptions,
  type ModelDefaults,
  type ResolvedGenerateOptions,
  type ResolvedLoadOptions,
  type UserGenerateOptions,
  type UserLoadOptions,
} from './options.js';
import { CLASS_TABLES, FASHION_MNIST_CLASSES, imagenetClasses, type ClassTable } from './classes.js';
import { compiledCacheDir, defaultCacheDir, openVaeSession, resolveModelSource, resolveVaeSource, type ModelSource } from './model-files.js';
import { loadDiTCheckpoint, type DiTCheckpoint } from './checkpoint/index.js';
import { ditOutChannels, isLatentDiT, pixelsPerCell, type DiTConfig, type DiTDtype } from './models/dit-config.js';
import { vaeUpscale } from './models/vae-config.js';
import { createDiTSession, type DiTSession, type VaeSession } from './runtime/index.js';
import { createImageGenerators, createTorchGenerator } from './diffusion/random.js';
import { createSchedule } from './diffusion/schedule.js';
import { guidedModel } from './diffusion/guidance.js';
import { SAMPLER_FUNCTIONS } from './diffusion/samplers/index.js';
import { makeGrid, splitImages, type ImageBatch, type RgbImage } from './image/grid.js';
import { encodePng } from './image/png.js';

export type Shape4 = readonly [number, number, number, number];

export interface StepInfo {
  readonly i: number; // 0-based step index
  readonly n: number; // number of steps
  readonly t: number; // original timestep the model saw
  readonly x: Float32Array; // current sample (kept half), (N, C, H, W)
  readonly x0: Float32Array; // predicted clean sample, (N, C, H, W)
  readonly shape: Shape4;
}

export interface GenerateHooks {
  readonly onStep?: (step: StepInfo) => void;
  /** Phase names: "sampling", "decoding". */
  readonly onPhase?: (phase: string) => void;
  readonly signal?: AbortSignal;
  /**
   * One seed per image instead of the options' seed (dit generate): image b draws its own noise,
   * as a one-image run seeded with imageSeeds[b] would (diffusion/random.ts createImageGenerators),
   * so it does not depend on the other images of the batch. One seed per label.
   */
  readonly imageSeeds?: readonly bigint[];
}

export interface GenerateResult {
  readonly options: ResolvedGenerateOptions;
  /** Final latents (pixels for pixel-space models), the kept half: (N, C, H, W). */
  readonly latents: { readonly data: Float32Array; readonly shape: Shape4 };
  /**
   * Decoded images before clamping, (N, 1|3, H, W), values nominally in [-1, 1]; with their
   * 8-bit forms and the grid PNG. Undefined for a latent model loaded with `vae: "none"`.
   */
  readonly images: ImageBatch | undefined;
  readonly imagesRgb: readonly RgbImage[] | undefined;
  readonly grid: RgbImage | undefined;
  readonly png: Uint8Array | undefined;
  readonly timings: { readonly sampleSeconds: number; readonly decodeSeconds: number; readonly steps: number };
}

export interface ModelInfo {
  readonly config: DiTConfig;
  /** e.g. "DiT-XL/2 256×256 (official layout, fp32) from ~/.cache/dit-ts/models/DiT-XL-2-256x256.pt" */
  readonly description: string;
  readonly embedded: boolean;
  readonly imageSize: number;
  readonly classTable: ClassTable | undefined;
  readonly defaults: ModelDefaults;
  readonly vae: string | undefined;
  /** False only for a latent model loaded with `vae: "none"`: generate() then returns latents alone. */
  readonly makesImages: boolean;
  /** The DiT's precision: fp32 gives the official code's numbers; q8 comes close (README table). */
  readonly dtype: DiTDtype;
}

export interface Pipeline {
  readonly info: ModelInfo;
  readonly load: ResolvedLoadOptions;
  /** Resolves options against this model without running anything (for validation up front). */
  resolve(options: UserGenerateOptions): ResolvedGenerateOptions;
  generate(options?: UserGenerateOptions, hooks?: GenerateHooks): Promise<GenerateResult>;
  dispose(): Promise<void>;
}

/**
 * The embedded model's defaults: `dit sample` with no flags takes seconds on a laptop CPU. DDPM
 * at 100 steps: this small, briefly trained model gives cleaner garments with the stochastic
 * sampler than with the ODE solvers (DDIM, DPM-Solver++), whose samples come out saturated.
 */
export const EMBEDDED_DEFAULTS = {
  labels: [0, 1, 2, 3, 4, 5, 6, 7],
  cfgScale: 4,
  numSamplingSteps: 100,
  sampler: 'ddpm',
  samplesPerRow: 4,
} as const;

/** The notebook's default classes: the eight of run_DiT.ipynb. */
const NOTEBOOK_LABELS = [207, 360, 387, 974, 88, 979, 417, 279];

/** `--vae ema|mse|PATH` → a folder or file; undefined for pixel-space models or `--vae none`. */
function resolveVaePath(load: ResolvedLoadOptions, config: DiTConfig): string | undefined {
  if (!isLatentDiT(config)) {
    if (load.vae !== undefined && load.vae !== 'none') {
      throw new UsageError(`--vae ${load.vae}: this model works in pixel space (${config.in_channels} channel(s)), it has no VAE; drop --vae`);
    }
    return undefined;
  }
  if (load.vae === 'none') return undefined;
  // The notebook's default VAE is ema.
  return resolveVaeSource(load.vae ?? 'ema', load.cacheDir ?? defaultCacheDir(), { noneAllowed: true });
}

function classTableFor(config: DiTConfig, embedded: boolean, fromCheckpoint: readonly string[] | undefined): { table: ClassTable | undefined; name: string } {
  if (fromCheckpoint && fromCheckpoint.length === config.num_classes) return { table: fromCheckpoint.map((s) => [s]), name: "the checkpoint's id2label" };
  if (embedded || (config.num_classes === 10 && config.in_channels === 1)) return { table: FASHION_MNIST_CLASSES, name: CLASS_TABLES['fashion-mnist']!.name };
  if (config.num_classes === 1000) return { table: imagenetClasses(), name: CLASS_TABLES.imagenet!.name };
  return { table: undefined, name: `${config.num_classes} unnamed classes` };
}

/** What the loaded model says about valid values and defaults (the embedded model's, or the notebook's). */
function modelDefaults(config: DiTConfig, source: ModelSource, classes: { table: ClassTable | undefined; name: string }): ModelDefaults {
  const base = {
    numClasses: config.num_classes,
    hasNullClass: config.class_dropout_prob > 0,
    classTable: classes.table,
    classTableName: classes.name,
    inChannels: config.in_channels,
  };
  if (source.embedded) return { ...base, ...EMBEDDED_DEFAULTS, labels: EMBEDDED_DEFAULTS.labels.filter((l) => l < config.num_classes) };
  return {
    ...base,
    labels: config.num_classes === 1000 ? NOTEBOOK_LABELS : Array.from({ length: Math.min(8, config.num_classes) }, (_, i) => i),
    cfgScale: NOTEBOOK_DEFAULTS.cfgScale,
    numSamplingSteps: NOTEBOOK_DEFAULTS.numSamplingSteps,
    sampler: NOTEBOOK_DEFAULTS.sampler,
    samplesPerRow: NOTEBOOK_DEFAULTS.samplesPerRow,
  };
}

interface Sessions {
  dit: DiTSession;
  vae: VaeSession | undefined;
}

/** Builds (or takes from the cache) the DiT and, for latent models, the VAE; closes the checkpoint. */
async function openSessions(ckpt: DiTCheckpoint, vaePath: string | undefined, load: ResolvedLoadOptions, onPhase?: (phase: string) => void): Promise<Sessions> {
  const opts = { device: load.device, threads: load.threads, cacheDir: compiledCacheDir(load) };
  let dit: DiTSession | undefined;
  try {
    onPhase?.('building model');
    dit = await createDiTSession(ckpt, { ...opts, dtype: load.dtype });
    if (vaePath === undefined) return { dit, vae: undefined };
    onPhase?.('building VAE');
    return { dit, vae: await openVaeSession(vaePath, { ...opts, memoryLimitBytes: load.maxMemoryBytes }) };
  } catch (err) {
    await dit?.release();
    throw err;
  } finally {
    ckpt.weights.close();
  }
}

export interface CreatePipelineHooks {
  /** Phase names: "loading checkpoint", "building model", "building VAE". */
  readonly onPhase?: (phase: string) => void;
  /**
   * Called once the checkpoint's header has been read and before any graph is built: a front end
   * checks here what depends on the model (class ids and names), so a mistake costs no build.
   */
  readonly beforeBuild?: (defaults: ModelDefaults) => void;
}

export async function createPipeline(user: UserLoadOptions = {}, hooks: CreatePipelineHooks = {}): Promise<Pipeline> {
  const load = resolveLoadOptions(user);
  const source = resolveModelSource(load);

  hooks.onPhase?.('loading checkpoint');
  const ckpt = loadDiTCheckpoint(source.ckpt, {
    config: load.config,
    model: load.model,
    imageSize: load.imageSize,
    numClasses: load.numClasses,
  });
  const config = ckpt.config;
  const classes = classTableFor(config, source.embedded, ckpt.classLabels);
  const defaults = modelDefaults(config, source, classes);
  let vaePath: string | undefined;
  try {
    vaePath = resolveVaePath(load, config);
    hooks.beforeBuild?.(defaults);
  } catch (err) {
    ckpt.weights.close();
    throw err;
  }
  let sessions: Sessions | undefined = await openSessions(ckpt, vaePath, load, hooks.onPhase);

  const vaeConfig = sessions.vae?.config;
  const info: ModelInfo = {
    config,
    description: ckpt.description,
    embedded: source.embedded,
    // SD's VAE upsamples ×8 (four blocks); a smaller VAE less.
    imageSize: config.input_size * (vaeConfig ? vaeUpscale(vaeConfig) : pixelsPerCell(config)),
    classTable: classes.table,
    defaults,
    vae: vaePath,
    makesImages: !isLatentDiT(config) || vaeConfig !== undefined,
    dtype: load.dtype,
  };
  const resolve = (options: UserGenerateOptions) => resolveGenerateOptions(options, defaults);

  return {
    info,
    load,
    resolve,
    async generate(options = {}, gen = {}) {
      const opts = resolve(options);
      if (!sessions) throw new DitError('this pipeline was disposed; create a new one');
      return generateWith(sessions, config, opts, gen);
    },
    async dispose() {
      const s = sessions;
      sessions = undefined;
      await s?.dit.release();
      await s?.vae?.release();
    },
  };
}

/** Steps 2–7 of the main path, for options already resolved (step 1). */
async function generateWith(sessions: Sessions, config: DiTConfig, opts: ResolvedGenerateOptions, gen: GenerateHooks): Promise<GenerateResult> {
  const n = opts.labels.length;
  const shape: Shape4 = [n, config.in_channels, config.input_size, config.input_size];

  // 2. Initial noise, as `torch.manual_seed(seed); z = torch.randn(n, C, H, W)` (or per image).
  const imageNumel = config.in_channels * config.input_size * config.input_size;
  assert(gen.imageSeeds === undefined || gen.imageSeeds.length === n, () => `${gen.imageSeeds!.length} image seeds for ${n} images`);
  const rng = gen.imageSeeds ? createImageGenerators(gen.imageSeeds, imageNumel) : createTorchGenerator(opts.seed);
  const z = rng.randn(n * imageNumel);

  // 3. The model with labels and guidance folded in.
  const { dit, vae } = sessions;
  const model = guidedModel({
    forward: (x, t, y, batch) => dit.run(x, t, y, batch),
    labels: opts.labels,
    nullClass: config.num_classes,
    form: opts.guidance,
    scale: opts.cfgScale,
    interval: opts.guidanceInterval,
    inChannels: config.in_channels,
    outChannels: ditOutChannels(config),
    sampleShape: shape,
  });

  // 4. The sampling loop (5. the learned-sigma split happens inside, per step).
  gen.onPhase?.('sampling');
  const schedule = createSchedule(opts.numSamplingSteps, opts.spacing);
  const sampler = SAMPLER_FUNCTIONS[opts.sampler];
  const t0 = performance.now();
  const latents = await sampler({
    model,
    x: z,
    shape,
    schedule,
    rng,
    noiseBatch: model.noiseBatch,
    learnedSigma: config.learn_sigma,
    eta: opts.eta,
    signal: gen.signal,
    onStep: gen.onStep ? (s) => gen.onStep!({ i: s.i, n: opts.numSamplingSteps, t: s.t, x: s.x, x0: s.x0, shape }) : undefined,
  });
  const sampleSeconds = (performance.now() - t0) / 1000;

  // 6. Decode (VAE, dividing by its scaling factor as DiT does) or take pixels as they are.
  gen.onPhase?.('decoding');
  const t1 = performance.now();
  const images: ImageBatch | undefined = vae ? await vae.decode(latents, shape) : isLatentDiT(config) ? undefined : { data: latents, shape };
  const decodeSeconds = (performance.now() - t1) / 1000;

  // 7. The grid exactly as torchvision's save_image writes it.
  const grid = images && makeGrid(images, { samplesPerRow: opts.samplesPerRow });
  return {
    options: opts,
    latents: { data: latents, shape },
    images,
    imagesRgb: images && splitImages(images),
    grid,
    png: grid && encodePng(grid),
    timings: { sampleSeconds, decodeSeconds, steps: opts.numSamplingSteps },
  };
}
