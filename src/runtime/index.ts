/**
 * Running models on ONNX Runtime. session.ts is the only file importing onnxruntime-node.
 *
 * - createSession(pathOrBytes, { device, threads, graphOptimizationLevel, enableCpuMemArena })
 *   for any model (VAE, classifier); a path lets ONNX Runtime read external data beside it.
 * - createDiTSession({ config, weights, path }, { cacheDir, noCache, attention, ... }) builds the
 *   DiT graph once per checkpoint (cache keyed by the file's identity, fileIdentity, and options) and returns
 *   run(x, t, y, batch).
 * - createVaeSession(source, opts): the VAE decoder, one model per latent size (cached likewise);
 *   createClassifierSession(spec, weights): the embedded model's classifier.
 * - deviceSupport() says which devices (cpu | webgpu | cuda) this install can use and why not.
 */
export { checkDeviceStarts, createSession, deviceFailure, deviceSupport, DEVICES, isDevice } from './session.js';
export type { Device, GraphOptimizationLevel, NamedTensor, Session, SessionOptions } from './session.js';
export { createDiTSession } from './dit-session.js';
export type { DiTModelSource, DiTSession, DiTSessionOptions } from './dit-session.js';
export { createVaeSession } from './vae-session.js';
export { closingWeights } from './vae-run.js';
export type { VaeSession, VaeSessionOptions, VaeSource } from './vae-session.js';
export type { FloatBatch, TileOptions } from './vae-tiles.js';
export { createClassifierSession } from './classifier-session.js';
export type { Classifier, ClassifierSession } from './classifier-session.js';
export { cachedModel, cacheKey, fileIdentity, GRAPH_FORMAT_VERSION, type CachedModel } from './compiled-cache.js';
