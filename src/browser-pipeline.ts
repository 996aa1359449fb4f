/**
 * The pipeline in a web page: createBrowserPipeline(files) reads a checkpoint the page was given
 * (the embedded model fetched with the site, or a file the user picked) through ByteSources,
 * builds the DiT graph in the page with the same builder as Node, runs it on onnxruntime-web
 * (runtime/web.ts), and hands it to pipeline-core.ts: generate() is the very code `dit sample` runs.
 * Nothing here reads files by path, writes a cache or starts a thread; the page runs it in a worker.
 */
import { UsageError } from './errors.js';
import { resolveLoadOptions, VAE_DTYPE, type UserLoadOptions } from './options.js';
import { loadDiTCheckpoint } from './checkpoint/dit.js';
import type { DiTFiles } from './checkpoint/discovery.js';
import type { ByteSource } from './checkpoint/file.js';
import { isLatentDiT } from './models/dit-config.js';
import { createWebDiTSession, createWebVaeSession, webDevice, type WebBackend } from './runtime/web.js';
import { closingWeights } from './runtime/vae-run.js';
import { loadVaeCheckpoint } from './checkpoint/vae.js';
import { encodePngStored } from './image/png-stored.js';
import { assemblePipeline, type CreatePipelineHooks, type Pipeline } from './pipeline-core.js';
import type { ClassTable } from './class-names.js';

export type { WebBackend } from './runtime/web.js';

/** `threads`: WASM threads, default runtime/web.ts defaultWasmThreads (every core up to 4 when isolated). */
export interface BrowserPipelineOptions extends Pick<UserLoadOptions, 'model' | 'imageSize' | 'numClasses' | 'attention' | 'dtype' | 'threads'> {
  /** onnxruntime-web's CPU (WASM) build or its WebGPU build. */
  readonly backend: WebBackend;
  /** dit | sit | repa, when the files do not say (SiT's weights look like DiT's; see checkpoint/family.ts). */
  readonly family?: string;
  /** True for the model the site ships (the embedded model's defaults apply). */
  readonly embedded?: boolean;
  /** A VAE for latent models: its weights and config.json (read when the first image is decoded). */
  readonly vae?: { readonly weights: ByteSource; readonly config?: ByteSource };
  /** The ImageNet-1k names, for 1000-class models (the page fetches them; undefined: unnamed classes). */
  readonly imagenetClasses?: ClassTable;
}

export async function createBrowserPipeline(files: DiTFiles, opts: BrowserPipelineOptions, hooks: CreatePipelineHooks = {}): Promise<Pipeline> {
  const load = resolveLoadOptions({
    model: opts.model,
    family: opts.family,
    imageSize: opts.imageSize,
    numClasses: opts.numClasses,
    threads: opts.threads,
    device: webDevice(opts.backend),
    attention: opts.attention,
    dtype: opts.dtype,
  });
  hooks.onPhase?.('loading checkpoint');
  const ckpt = loadDiTCheckpoint(files, { model: load.model, imageSize: load.imageSize, numClasses: load.numClasses, family: load.family });
  return assemblePipeline(
    load,
    ckpt,
    opts.embedded ?? false,
    {
      imagenetClasses: () => opts.imagenetClasses ?? Array.from({ length: 1000 }, (_, id) => [`class ${id}`]),
      resolveVae(config) {
        if (!isLatentDiT(config)) {
          if (opts.vae) throw new UsageError(`${ckpt.path} works in pixel space (${config.in_channels} channel(s)), it has no VAE; open the checkpoint without one`);
          return undefined;
        }
        if (!opts.vae) {
          throw new UsageError(`${ckpt.path} is a latent model (${config.in_channels} channels): it needs a VAE to make images; open the VAE's folder (config.json + diffusion_pytorch_model.safetensors) too`);
        }
        return opts.vae.weights.name;
      },
      async openSessions(c, vaeName, onPhase) {
        onPhase?.('building model');
        const web = { backend: opts.backend, threads: load.threads };
        const dit = await createWebDiTSession(c, { ...web, dtype: load.dtype, attention: load.attention });
        if (vaeName === undefined || !opts.vae) return { dit, vae: undefined };
        try {
          const vae = loadVaeCheckpoint(opts.vae);
          const vaeOpts = { ...web, dtype: VAE_DTYPE[load.dtype] };
          return { dit, vae: closingWeights(createWebVaeSession({ config: vae.config, weights: vae.weights.tensors, scalingFactor: vae.scalingFactor }, vaeOpts), vae.weights) };
        } catch (err) {
          await dit.release();
          throw err;
        }
      },
      encodePng: encodePngStored,
    },
    hooks,
  );
}

export { hasWebGpuAdapter, provideOrtWasm, WEB_BACKENDS, type OrtWasmFrom } from './runtime/web.js';
export type { ByteSource };
export type { Pipeline } from './pipeline-core.js';
export { chooseWeights, DIT_WEIGHT_NAMES, isWeightsName, VAE_WEIGHT_NAMES } from './checkpoint/names.js';
