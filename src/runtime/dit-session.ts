/**
 * A DiT denoiser on ONNX Runtime: builds the graph (or takes it from the compiled-model cache),
 * writes it with external data, and opens the session from the file so the weights are held once.
 */
import { saveModel } from '../graph/index.js';
import { buildDiTGraph, type DiTConfig, type DiTWeights } from '../models/dit.js';
import { cachedModel, fileIdentity } from './compiled-cache.js';
import { createSession, type SessionOptions } from './session.js';
import { ditGraphOptions, ditSessionOver, type DiTGraphChoices, type DiTSession } from './dit-run.js';

export interface DiTModelSource {
  readonly config: DiTConfig;
  readonly weights: DiTWeights;
  /** The checkpoint file the weights came from; the cache is keyed by its identity (fileIdentity). */
  readonly path?: string;
}

export interface DiTSessionOptions extends SessionOptions, DiTGraphChoices {
  /** Compiled-model cache folder; undefined builds into a temporary folder every time. */
  readonly cacheDir?: string;
  /** Bypass the cache even when cacheDir is set. */
  readonly noCache?: boolean;
}

export type { DiTSession } from './dit-run.js';

export async function createDiTSession(source: DiTModelSource, opts: DiTSessionOptions = {}): Promise<DiTSession> {
  const config = source.config;
  const graphOptions = ditGraphOptions(opts, opts.device ?? 'cpu');
  const useCache = opts.cacheDir !== undefined && !opts.noCache && source.path !== undefined;
  const t0 = performance.now();
  let built = false;
  const identity = useCache ? fileIdentity(source.path!) : null;
  const rest = JSON.stringify({ config, graphOptions });
  const model = await cachedModel(
    useCache ? opts.cacheDir : undefined,
    'dit',
    { source: identity, config, graphOptions },
    async (modelPath) => {
      await saveModel(buildDiTGraph(config, source.weights, graphOptions), modelPath);
      built = true;
    },
    // An entry built from an older version of the same file, with the same options, is dead weight.
    (other) => {
      const o = other as { source?: { path?: string }; config?: unknown; graphOptions?: unknown } | undefined;
      return o?.source?.path === identity?.path && JSON.stringify({ config: o?.config, graphOptions: o?.graphOptions }) === rest;
    },
  );
  const t1 = performance.now();
  let session;
  try {
    session = await createSession(model.modelPath, opts);
  } finally {
    model.cleanup();
  }
  const t2 = performance.now();

  return ditSessionOver(session, config, {
    device: opts.device ?? 'cpu',
    fromCache: model.fromCache,
    timings: { buildSeconds: built ? (t1 - t0) / 1000 : 0, sessionSeconds: (t2 - t1) / 1000 },
  });
}
