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
import fs from 'node:fs';
import { DitError, UsageError } from './errors.js';
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
import { FASHION_MNIST_CLASSES, imagenetClasses, type ClassTable } from './classes.js';
import { EMBEDDED_MODEL_DIR } from './assets.js';
import { cachePaths, defaultCacheDir } from './cache.js';
import { officialCheckpointPath, resolveVaeSource } from './download.js';
import { loadDiTCheckpoint } from './checkpoint/index.js';
import type { DiTConfig } from './models/dit-config.js';
import { ditOutChannels } from './models/dit-config.js';
import { createDiTSession, type DiTSession } from './runtime/index.js';
import { createVaeSession, type VaeSession } from './image/decode.js';
import { vaeUpscale } from './models/vae-config.js';
import { isLatentDiT, pixelsPerCell } from './models/dit-config.js';
import { createTorchGenerator } from './diffusion/random.js';
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

interface ModelSource {
  readonly ckpt: string;
  readonly embedded: boolean;
}

function resolveModelSource(load: ResolvedLoadOptions): ModelSource {
  if (load.ckpt !== undefined) {
    if (!fs.existsSync(load.ckpt)) {
      throw new UsageError(`--ckpt ${load.ckpt}: no such file or folder; check the path`);
    }
    return { ckpt: load.ckpt, embedded: false };
  }
  if (load.model !== undefined) {
    // Official weights, as `dit download` places them.
    if (load.model !== 'DiT-XL/2') {
      throw new UsageError(
        `--model ${load.model} has no released weights; only DiT-XL/2 (256 and 512) was released. Pass --ckpt with your own checkpoint`,
      );
    }
    const size = load.imageSize ?? 256;
    if (size !== 256 && size !== 512) {
      throw new UsageError(`--image-size ${size}: the released DiT-XL/2 weights are 256 or 512; pass --ckpt for other sizes`);
    }
    const file = officialCheckpointPath(load.cacheDir ?? defaultCacheDir(), size);
    if (!fs.existsSync(file)) {
      throw new UsageError(`the official DiT-XL/2 ${size}×${size} weights are not in the cache (${file}); run \`dit download DiT-XL-2-${size}\` or pass --ckpt`);
    }
    return { ckpt: file, embedded: false };
  }
  return { ckpt: EMBEDDED_MODEL_DIR, embedded: true };
}

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
  if (embedded || (config.num_classes === 10 && config.in_channels === 1)) return { table: FASHION_MNIST_CLASSES, name: 'Fashion-MNIST' };
  if (config.num_classes === 1000) return { table: imagenetClasses(), name: 'ImageNet-1k' };
  return { table: undefined, name: `${config.num_classes} unnamed classes` };
}

export async function createPipeline(user: UserLoadOptions = {}, hooks: { onPhase?: (phase: string) => void } = {}): Promise<Pipeline> {
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
  const vaePath = resolveVaePath(load, config);
  // Pixel-space models (1 or 3 channels, no VAE) go straight to the grid.
  const pixelSpace = !isLatentDiT(config);
  const classes = classTableFor(config, source.embedded, ckpt.classLabels);
  const base = {
    numClasses: config.num_classes,
    hasNullClass: config.class_dropout_prob > 0,
    classTable: classes.table,
    classTableName: classes.name,
    inChannels: config.in_channels,
  };
  const defaults: ModelDefaults = source.embedded
    ? { ...base, ...EMBEDDED_DEFAULTS, labels: EMBEDDED_DEFAULTS.labels.filter((l) => l < config.num_classes) }
    : {
        ...base,
        labels: config.num_classes === 1000 ? NOTEBOOK_LABELS : Array.from({ length: Math.min(8, config.num_classes) }, (_, i) => i),
        cfgScale: NOTEBOOK_DEFAULTS.cfgScale,
        numSamplingSteps: NOTEBOOK_DEFAULTS.numSamplingSteps,
        sampler: NOTEBOOK_DEFAULTS.sampler,
        samplesPerRow: NOTEBOOK_DEFAULTS.samplesPerRow,
      };

  hooks.onPhase?.('building model');
  const cacheDir = cachePaths(load.cacheDir ?? defaultCacheDir()).compiled;
  let dit: DiTSession | undefined;
  let vae: VaeSession | undefined;
  try {
    dit = await createDiTSession(ckpt, { device: load.device, threads: load.threads, cacheDir, noCache: load.noCache });
    if (vaePath !== undefined) {
      hooks.onPhase?.('building VAE');
      vae = await createVaeSession(vaePath, { device: load.device, threads: load.threads, cacheDir, noCache: load.noCache });
    }
  } catch (err) {
    await dit?.release();
    throw err;
  } finally {
    ckpt.weights.close();
  }

  // SD's VAE upsamples ×8 (four blocks); a smaller VAE less.
  const imageSize = config.input_size * (vae ? vaeUpscale(vae.config) : pixelsPerCell(config));
  const info: ModelInfo = {
    config,
    description: ckpt.description,
    embedded: source.embedded,
    imageSize,
    classTable: classes.table,
    defaults,
    vae: vaePath,
    makesImages: pixelSpace || vae !== undefined,
  };

  const resolve = (options: UserGenerateOptions) => resolveGenerateOptions(options, defaults);

  async function generate(options: UserGenerateOptions = {}, gen: GenerateHooks = {}): Promise<GenerateResult> {
    // 1. Options, validated before any work.
    const opts = resolve(options);
    if (!dit) throw new DitError('this pipeline was disposed; create a new one');
    const n = opts.labels.length;
    const shape: Shape4 = [n, config.in_channels, config.input_size, config.input_size];

    // 2. Initial noise, as `torch.manual_seed(seed); z = torch.randn(n, C, H, W)`.
    const rng = createTorchGenerator(opts.seed);
    const z = rng.randn(n * config.in_channels * config.input_size * config.input_size);

    // 3. The model with labels and guidance folded in.
    const session = dit;
    const model = guidedModel({
      forward: (x, t, y, batch) => session.run(x, t, y, batch),
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
      onStep: gen.onStep
        ? (s) => gen.onStep!({ i: s.i, n: opts.numSamplingSteps, t: s.t, x: s.x, x0: s.x0, shape })
        : undefined,
    });
    const sampleSeconds = (performance.now() - t0) / 1000;

    // 6. Decode (VAE, dividing by its scaling factor as DiT does) or take pixels as they are.
    gen.onPhase?.('decoding');
    const t1 = performance.now();
    const images: ImageBatch | undefined = vae ? await vae.decode(latents, shape) : pixelSpace ? { data: latents, shape } : undefined;
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

  return {
    info,
    load,
    resolve,
    generate,
    async dispose() {
      const d = dit;
      const v = vae;
      dit = undefined;
      vae = undefined;
      await d?.release();
      await v?.release();
    },
  };
}
