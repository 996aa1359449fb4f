/**
 * The one main path every Node front end uses (CLI, server, library): createPipeline(load) finds
 * the checkpoint (--ckpt, --model, the embedded model), the VAE and the compiled-model cache on
 * disk, opens the sessions on onnxruntime-node, and hands them to pipeline-core.ts, which holds
 * generate() — the same code the page runs over onnxruntime-web (browser-pipeline.ts).
 */
import { UsageError } from './errors.js';
import { FAMILY_DEFAULTS, resolveLoadOptions, VAE_DTYPE, type ResolvedLoadOptions, type UserLoadOptions } from './options.js';
import { imagenetClasses } from './classes.js';
import { compiledCacheDir, defaultCacheDir, openVaeSession, resolveModelSource, resolveVaeSource } from './model-files.js';
import { loadDiTCheckpoint, type DiTCheckpoint } from './checkpoint/index.js';
import { isLatentDiT, type DiTConfig, type ModelFamily } from './models/dit-config.js';
import { checkDeviceStarts, createDiTSession, type DiTSession } from './runtime/index.js';
import { encodePng } from './image/png.js';
import { assemblePipeline, type CreatePipelineHooks, type Pipeline, type Sessions } from './pipeline-core.js';

export { EMBEDDED_DEFAULTS } from './pipeline-core.js';
export type { CreatePipelineHooks, GenerateHooks, GenerateResult, ModelInfo, Pipeline, Shape4, StepInfo } from './pipeline-core.js';

/** `--vae ema|mse|PATH` → a folder or file; undefined for pixel-space models or `--vae none`. */
function resolveVaePath(load: ResolvedLoadOptions, config: DiTConfig, family: ModelFamily): string | undefined {
  if (!isLatentDiT(config)) {
    if (load.vae !== undefined && load.vae !== 'none') {
      throw new UsageError(`--vae ${load.vae}: this model works in pixel space (${config.in_channels} channel(s)), it has no VAE; drop --vae`);
    }
    return undefined;
  }
  if (load.vae === 'none') return undefined;
  // The official default VAE: ema for DiT's notebook and REPA, mse for SiT's sample.py.
  return resolveVaeSource(load.vae ?? FAMILY_DEFAULTS[family].vae, load.cacheDir ?? defaultCacheDir(), { noneAllowed: true });
}

/** Builds (or takes from the cache) the DiT and, for latent models, the VAE. */
async function openSessions(ckpt: DiTCheckpoint, vaePath: string | undefined, load: ResolvedLoadOptions, onPhase?: (phase: string) => void): Promise<Sessions> {
  const opts = { device: load.device, threads: load.threads, cacheDir: compiledCacheDir(load) };
  let dit: DiTSession | undefined;
  try {
    onPhase?.('building model');
    dit = await createDiTSession(ckpt, { ...opts, dtype: load.dtype, attention: load.attention });
    if (vaePath === undefined) return { dit, vae: undefined };
    onPhase?.('building VAE');
    return { dit, vae: await openVaeSession(vaePath, { ...opts, dtype: VAE_DTYPE[load.dtype], memoryLimitBytes: load.maxMemoryBytes }) };
  } catch (err) {
    await dit?.release();
    throw err;
  }
}

export async function createPipeline(user: UserLoadOptions = {}, hooks: CreatePipelineHooks = {}): Promise<Pipeline> {
  const load = resolveLoadOptions(user);
  const source = resolveModelSource(load);
  await checkDeviceStarts(load.device);

  hooks.onPhase?.('loading checkpoint');
  const ckpt = loadDiTCheckpoint(source.ckpt, {
    config: load.config,
    model: load.model,
    imageSize: load.imageSize,
    numClasses: load.numClasses,
    family: load.family,
  });
  return assemblePipeline(
    load,
    ckpt,
    source.embedded,
    {
      imagenetClasses,
      resolveVae: (config, family) => resolveVaePath(load, config, family),
      openSessions: (c, vaePath, onPhase) => openSessions(c, vaePath, load, onPhase),
      encodePng,
    },
    hooks,
  );
}
