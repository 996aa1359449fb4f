/**
 * `dit sample`: the notebook's job in one command. Flags mirror DiT's sample.py and the notebook;
 * they go through the same resolver as the library and the server, so a bad value fails before
 * anything is loaded.
 */
import type { Command } from 'commander';
import { createPipeline, type Pipeline } from '../pipeline.js';
import { resolveLoadOptions, type UserGenerateOptions, type UserLoadOptions } from '../options.js';
import { UsageError } from '../errors.js';
import { saveEach } from '../image/png.js';
import { writeFileAtomic } from '../atomic-write.js';
import { writeNpy } from '../checkpoint/index.js';
import { createProgress, formatSeconds } from './progress.js';
import { checkWritable } from './output.js';

/** Flags shared by `sample`, `sweep` and `serve`: what to load. */
export function addLoadFlags(cmd: Command): Command {
  return cmd
    .option('--model <name>', 'DiT variant, e.g. DiT-XL/2 (official weights from the cache folder when --ckpt is not given)')
    .option('--ckpt <path>', 'checkpoint file or folder (.pt, .pth, .bin, .safetensors, diffusers folder); default: the embedded Fashion-MNIST model')
    .option('--config <file>', 'config.json with the DiT constructor arguments (num_heads...)')
    .option('--vae <ema|mse|path|none>', 'VAE for latent models: ema, mse (from the cache folder), a folder or file, or none')
    .option('--image-size <px>', 'image size in pixels (256 or 512 for the official DiT-XL/2)')
    .option('--num-classes <n>', 'number of classes (checked against the checkpoint)')
    .option('--device <cpu|webgpu|cuda>', 'where to run', 'cpu')
    .option('--threads <n>', 'CPU threads for ONNX Runtime (default: all cores)')
    .option('--no-cache', 'rebuild the ONNX model instead of reusing the compiled-model cache')
    .option('--cache-dir <dir>', 'model cache folder (default $DIT_CACHE_DIR or ~/.cache/dit-ts)');
}

/** Flags shared by `sample` and `sweep`: what to generate. */
export function addGenerateFlags(cmd: Command): Command {
  return cmd
    .option('--class-labels <ids>', 'class ids, comma-separated, e.g. 207,360 (as in the notebook)')
    .option('--classes <names>', 'class names, comma-separated, e.g. "golden retriever" or "sneaker"')
    .option('--num-images <n>', 'repeat the labels up to this many images (like [207] * n)')
    .option('--cfg-scale <s>', 'classifier-free guidance scale (1 = none; notebook slider 1..10)')
    .option('--num-sampling-steps <n>', 'sampling steps, 1..1000')
    .option('--sampler <name>', 'ddpm | ddim | dpm-solver++')
    .option('--guidance <form>', 'dit (official, first 3 channels) | all | off')
    .option('--guidance-interval <lo,hi>', 'apply guidance only for timesteps in [lo, hi] (0..999)')
    .option('--spacing <uniform|ddim>', 'timestep respacing: uniform ("N", the default) or ddim ("ddimN")')
    .option('--eta <x>', 'DDIM eta (0 = deterministic)')
    .option('--seed <n>', 'random seed (torch.manual_seed), default 0')
    .option('--samples-per-row <n>', 'grid columns');
}

export interface LoadFlags {
  model?: string;
  ckpt?: string;
  config?: string;
  vae?: string;
  imageSize?: string;
  numClasses?: string;
  device?: string;
  threads?: string;
  cache?: boolean;
  cacheDir?: string;
}

export type GenerateFlags = Record<
  | 'classLabels'
  | 'classes'
  | 'numImages'
  | 'cfgScale'
  | 'numSamplingSteps'
  | 'sampler'
  | 'guidance'
  | 'guidanceInterval'
  | 'spacing'
  | 'eta'
  | 'seed'
  | 'samplesPerRow',
  string | undefined
>;

/** Flag strings → library options; numbers stay strings so the resolver reports them verbatim. */
export function loadOptionsFrom(flags: LoadFlags): UserLoadOptions {
  return {
    model: flags.model,
    ckpt: flags.ckpt,
    config: flags.config,
    vae: flags.vae,
    imageSize: flags.imageSize as unknown as number | undefined,
    numClasses: flags.numClasses as unknown as number | undefined,
    device: flags.device,
    threads: flags.threads as unknown as number | undefined,
    noCache: flags.cache === false,
    cacheDir: flags.cacheDir,
  };
}

export function generateOptionsFrom(flags: GenerateFlags): UserGenerateOptions {
  return {
    classLabels: flags.classLabels,
    classes: flags.classes,
    numImages: flags.numImages as unknown as number | undefined,
    cfgScale: flags.cfgScale as unknown as number | undefined,
    numSamplingSteps: flags.numSamplingSteps as unknown as number | undefined,
    sampler: flags.sampler,
    guidance: flags.guidance,
    guidanceInterval: flags.guidanceInterval,
    spacing: flags.spacing,
    eta: flags.eta as unknown as number | undefined,
    seed: flags.seed,
    samplesPerRow: flags.samplesPerRow as unknown as number | undefined,
  };
}

interface SampleFlags extends LoadFlags, GenerateFlags {
  out: string;
  saveEach?: string;
  saveLatents?: string;
  quiet?: boolean;
}

export function register(program: Command): void {
  const cmd = program.command('sample').description('generate a grid of class-conditional samples (defaults: the embedded model, 8 classes, CFG 4, seed 0)');
  addLoadFlags(cmd);
  addGenerateFlags(cmd);
  cmd
    .option('--out <file>', 'the grid PNG', 'sample.png')
    .option('--save-each <dir>', 'also write one PNG per image into this folder')
    .option('--save-latents <file>', 'also write the final latents (kept half, float32 .npy)')
    .option('--quiet', 'no progress output')
    .action(async (flags: SampleFlags) => {
      const started = performance.now();
      const load = loadOptionsFrom(flags);
      resolveLoadOptions(load); // fail on bad flags before touching any file
      const outputs = [flags.out, flags.saveLatents].filter((p): p is string => p !== undefined);
      for (const p of outputs) checkWritable(p);
      if (flags.saveEach) checkWritable(flags.saveEach, { directory: true });

      const progress = createProgress({ quiet: flags.quiet ?? false });
      let pipeline: Pipeline | undefined;
      try {
        pipeline = await createPipeline(load, { onPhase: (p) => progress.phase(p) });
        if (!pipeline.info.makesImages && !flags.saveLatents) {
          throw new UsageError('--vae none decodes no images: pass --save-latents FILE to keep the latents, or a VAE with --vae ema|mse|PATH');
        }
        const loadSeconds = (performance.now() - started) / 1000;
        const result = await pipeline.generate(generateOptionsFrom(flags), {
          onStep: (s) => progress.step('sampling', s.i + 1, s.n),
          onPhase: (p) => progress.phase(p),
        });
        progress.done();
        if (result.png) writeFileAtomic(flags.out, result.png);
        if (flags.saveEach && result.imagesRgb) saveEach(flags.saveEach, result.imagesRgb);
        if (flags.saveLatents) writeNpy(flags.saveLatents, result.latents.data, result.latents.shape);
        if (!flags.quiet) {
          const t = result.timings;
          process.stderr.write(
            `load ${formatSeconds(loadSeconds)} · sample ${formatSeconds(t.sampleSeconds)} (${t.steps} steps, ${formatSeconds(t.sampleSeconds / t.steps)}/step) · decode ${formatSeconds(t.decodeSeconds)}\n`,
          );
        }
        process.stdout.write(`${result.png ? flags.out : flags.saveLatents}\n`);
      } finally {
        await pipeline?.dispose();
      }
    });
}
