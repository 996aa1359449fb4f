/**
 * The main path, whatever runs it: createPipeline (Node, pipeline.ts) and createBrowserPipeline
 * (the page, browser-pipeline.ts) open the checkpoint and the sessions their own way and hand them
 * to assemblePipeline, which owns everything after: the model's defaults and class table, option
 * resolution and generate():
 *
 *   pipeline.generate(opts)   1. resolve options   2. initial noise (torch.manual_seed + randn)
 *                             3. guided model      4. sampler loop   5. learned-sigma split (inside
 *                             the samplers)        6. VAE decode     7. grid + PNG
 *
 * Reproducing the official code: `z = randn(N, C, H, W)` right after seeding; with guidance the
 * model batch is [z, z] with labels [y, null] and every sampler step draws noise for that whole
 * doubled batch (of which the first half is used), exactly as `p_sample_loop(forward_with_cfg)`.
 * Nothing here touches files or a particular ONNX Runtime binding.
 */
import { assert, DitError } from './errors.js';
import {
  FAMILY_DEFAULTS,
  NOTEBOOK_DEFAULTS,
  resolveGenerateOptions,
  VAE_DTYPE,
  type ModelDefaults,
  type ResolvedGenerateOptions,
  type ResolvedLoadOptions,
  type UserGenerateOptions,
} from './options.js';
import { CLASS_TABLES, FASHION_MNIST_CLASSES, type ClassTable } from './classes.js';
import type { DiTCheckpoint } from './checkpoint/dit.js';
import { ditOutChannels, isLatentDiT, pixelsPerCell, type DiTAttentionForm, type DiTConfig, type DiTDtype, type ModelFamily } from './models/dit-config.js';
import { vaeUpscale, type VaeDtype } from './models/vae-config.js';
import type { DiTSession } from './runtime/dit-run.js';
import type { VaeSession } from './runtime/vae-session.js';
import { createImageGenerators, createTorchGenerator } from './diffusion/random.js';
import { createSchedule } from './diffusion/schedule.js';
import { guidedModel } from './diffusion/guidance.js';
import { FLOW_SAMPLER_FUNCTIONS, SAMPLER_FUNCTIONS, isFlowSampler } from './diffusion/samplers/index.js';
import type { VelocityModelFn } from './diffusion/flow.js';
import { makeGrid, splitImages, type ImageBatch, type RgbImage } from './image/grid.js';

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
  /** dit, sit or repa: which samplers and defaults apply (the user's --family, the file's, else dit). */
  readonly family: ModelFamily;
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
  /** The VAE's precision under `dtype` (VAE_DTYPE: fp16 → fp16, else fp32); undefined without a VAE. */
  readonly vaeDtype?: VaeDtype;
  /** How the DiT computes attention (fused or plain; DEFAULT_ATTENTION for the device unless asked). */
  readonly attention: DiTAttentionForm;
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
 * The embedded model's defaults: `dit sample` with no flags takes seconds on a laptop CPU. DDPM:
 * this small model gives cleaner garments with the stochastic sampler than with the ODE solvers
 * (DDIM: FD 32.2 against 18.1 at CFG 4). Guidance only on timesteps 82..579 (the guidance interval):
 * the second-generation model (issue 19, docs/gpu/2026-11-27-round2.md, 2,000 samples) scores FD 18.1
 * at CFG 4 with it against 32.9 with 100 fully guided steps. 25 steps: at CFG 4 as good as 40 or
 * better (bench/generate-fd.ts, 2,000 samples, seed 0: FD 17.85 against 18.35, Shirt recognised 0.965
 * against 0.905) in 0.6 of the time; below CFG 2 more steps do better (CFG 1.5: FD 7.73 against 6.34).
 */
export const EMBEDDED_DEFAULTS = {
  labels: [0, 1, 2, 3, 4, 5, 6, 7],
  cfgScale: 4,
  numSamplingSteps: 25,
  sampler: 'ddpm',
  guidanceInterval: [82, 579],
  samplesPerRow: 4,
} as const;

/** The notebook's default classes: the eight of run_DiT.ipynb. */
const NOTEBOOK_LABELS = [207, 360, 387, 974, 88, 979, 417, 279];

function classTableFor(config: DiTConfig, embedded: boolean, fromCheckpoint: readonly string[] | undefined, imagenet: () => ClassTable): { table: ClassTable | undefined; name: string } {
  if (fromCheckpoint && fromCheckpoint.length === config.num_classes) return { table: fromCheckpoint.map((s) => [s]), name: "the checkpoint's id2label" };
  if (embedded || (config.num_classes === 10 && config.in_channels === 1)) return { table: FASHION_MNIST_CLASSES, name: CLASS_TABLES['fashion-mnist']!.name };
  if (config.num_classes === 1000) return { table: imagenet(), name: CLASS_TABLES.imagenet!.name };
  return { table: undefined, name: `${config.num_classes} unnamed classes` };
}

/** What the loaded model says about valid values and defaults (the embedded model's, or its family's official ones). */
function modelDefaults(config: DiTConfig, source: { readonly embedded: boolean }, classes: { table: ClassTable | undefined; name: string }, family: ModelFamily): ModelDefaults {
  const base = {
    family,
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
    cfgScale: FAMILY_DEFAULTS[family].cfgScale,
    numSamplingSteps: FAMILY_DEFAULTS[family].numSamplingSteps,
    sampler: FAMILY_DEFAULTS[family].sampler,
    guidanceInterval: FAMILY_DEFAULTS[family].guidanceInterval,
    samplesPerRow: NOTEBOOK_DEFAULTS.samplesPerRow,
  };
}

export interface Sessions {
  dit: DiTSession;
  vae: VaeSession | undefined;
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

/** What differs between Node and the page: where the VAE and the ImageNet names come from, how sessions open, how PNGs are written. */
export interface PipelineEnvironment {
  /** The ImageNet-1k class table (read only for 1000-class models). */
  imagenetClasses(): ClassTable;
  /** The VAE the load options mean for this model (undefined: none); throws a UsageError for a wrong choice. */
  resolveVae(config: DiTConfig, family: ModelFamily): string | undefined;
  /** The DiT session and, when `vae` is set, the VAE session. */
  openSessions(ckpt: DiTCheckpoint, vae: string | undefined, onPhase?: (phase: string) => void): Promise<Sessions>;
  encodePng(image: RgbImage): Uint8Array;
}

/**
 * A Pipeline over an opened checkpoint: checks what depends on the model (hooks.beforeBuild), opens
 * the sessions and closes the checkpoint (the sessions hold what they need).
 */
export async function assemblePipeline(
  load: ResolvedLoadOptions,
  ckpt: DiTCheckpoint,
  embedded: boolean,
  env: PipelineEnvironment,
  hooks: CreatePipelineHooks = {},
): Promise<Pipeline> {
  const config = ckpt.config;
  let sessions: Sessions | undefined;
  let classes: ReturnType<typeof classTableFor>;
  let defaults: ModelDefaults;
  let vaePath: string | undefined;
  try {
    classes = classTableFor(config, embedded, ckpt.classLabels, () => env.imagenetClasses());
    defaults = modelDefaults(config, { embedded }, classes, ckpt.family);
    vaePath = env.resolveVae(config, ckpt.family);
    hooks.beforeBuild?.(defaults);
    sessions = await env.openSessions(ckpt, vaePath, hooks.onPhase);
  } finally {
    ckpt.weights.close();
  }

  const vaeConfig = sessions.vae?.config;
  const info: ModelInfo = {
    config,
    family: ckpt.family,
    description: ckpt.description,
    embedded,
    // SD's VAE upsamples ×8 (four blocks); a smaller VAE less.
    imageSize: config.input_size * (vaeConfig ? vaeUpscale(vaeConfig) : pixelsPerCell(config)),
    classTable: classes.table,
    defaults,
    vae: vaePath,
    makesImages: !isLatentDiT(config) || vaeConfig !== undefined,
    dtype: load.dtype,
    vaeDtype: sessions.vae ? VAE_DTYPE[load.dtype] : undefined,
    attention: load.attention,
  };
  const resolve = (options: UserGenerateOptions) => resolveGenerateOptions(options, defaults);

  return {
    info,
    load,
    resolve,
    async generate(options = {}, gen = {}) {
      const opts = resolve(options);
      if (!sessions) throw new DitError('this pipeline was disposed; create a new one');
      return generateWith(sessions, config, opts, gen, env.encodePng);
    },
    async dispose() {
      const s = sessions;
      sessions = undefined;
      await s?.dit.release();
      await s?.vae?.release();
    },
  };
}

/** SiT's and REPA's forward: the network's output without the learned-sigma half (SiT's `x.chunk(2)[0]`). */
function velocityForward(dit: DiTSession, config: DiTConfig): VelocityModelFn {
  const size = config.in_channels * config.input_size * config.input_size;
  return async (x, t, y, batch) => {
    const out = await dit.run(x, t, y, batch);
    if (!config.learn_sigma) return out;
    const v = new Float32Array(batch * size);
    for (let b = 0; b < batch; b++) v.set(out.subarray(2 * b * size, (2 * b + 1) * size), b * size);
    return v;
  };
}

/** Steps 2–7 of the main path, for options already resolved (step 1). */
async function generateWith(sessions: Sessions, config: DiTConfig, opts: ResolvedGenerateOptions, gen: GenerateHooks, encodePng: (image: RgbImage) => Uint8Array): Promise<GenerateResult> {
  const n = opts.labels.length;
  const shape: Shape4 = [n, config.in_channels, config.input_size, config.input_size];

  // 2. Initial noise, as `torch.manual_seed(seed); z = torch.randn(n, C, H, W)` (or per image).
  const imageNumel = config.in_channels * config.input_size * config.input_size;
  assert(gen.imageSeeds === undefined || gen.imageSeeds.length === n, () => `${gen.imageSeeds!.length} image seeds for ${n} images`);
  const rng = gen.imageSeeds ? createImageGenerators(gen.imageSeeds, imageNumel) : createTorchGenerator(opts.seed);
  const z = rng.randn(n * imageNumel);

  // 3–5. The sampling loop, with the model, its labels and guidance folded in as the family's code does.
  gen.onPhase?.('sampling');
  const { dit, vae } = sessions;
  const onStep = gen.onStep ? (s: { i: number; t: number; x: Float32Array; x0: Float32Array }) => gen.onStep!({ i: s.i, n: opts.numSamplingSteps, t: s.t, x: s.x, x0: s.x0, shape }) : undefined;
  const t0 = performance.now();
  let latents: Float32Array;
  if (isFlowSampler(opts.sampler)) {
    latents = await FLOW_SAMPLER_FUNCTIONS[opts.sampler]({
      forward: velocityForward(dit, config),
      labels: opts.labels,
      nullClass: config.num_classes,
      x: z,
      shape,
      numSteps: opts.numSamplingSteps,
      guidance: { form: opts.guidance, scale: opts.cfgScale, interval: opts.guidanceInterval },
      rng,
      signal: gen.signal,
      onStep,
    });
  } else {
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
    latents = await SAMPLER_FUNCTIONS[opts.sampler]({
      model,
      x: z,
      shape,
      schedule: createSchedule(opts.numSamplingSteps, opts.spacing),
      rng,
      noiseBatch: model.noiseBatch,
      learnedSigma: config.learn_sigma,
      eta: opts.eta,
      signal: gen.signal,
      onStep,
    });
  }
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
