/**
 * dit-ts, the library: load a pipeline once, then generate.
 *
 * ```ts
 * import { createPipeline } from 'dit-ts';
 * const pipeline = await createPipeline({ device: 'cpu' });          // the embedded model
 * const result = await pipeline.generate({ classes: 'sneaker', numImages: 4, cfgScale: 4, seed: 0 });
 * fs.writeFileSync('sneakers.png', result.png);
 * await pipeline.dispose();
 * ```
 * Options are the CLI's flags in camelCase and go through the same resolver (src/options.ts).
 */
export { createPipeline, EMBEDDED_DEFAULTS } from './pipeline.js';
export type { GenerateHooks, GenerateResult, ModelInfo, Pipeline, StepInfo } from './pipeline.js';
export {
  resolveGenerateOptions,
  resolveLoadOptions,
  SAMPLERS,
  GUIDANCE_FORMS,
  SPACINGS,
  DEVICES,
  MAX_SAMPLING_STEPS,
  MAX_IMAGES,
} from './options.js';
export type {
  UserGenerateOptions,
  UserLoadOptions,
  ResolvedGenerateOptions,
  ResolvedLoadOptions,
  SamplerName,
  GuidanceForm,
  DeviceName,
} from './options.js';
export { DitError, UsageError, FormatError } from './errors.js';
export { imagenetClasses, FASHION_MNIST_CLASSES, resolveClassNames } from './classes.js';
export { DIT_VARIANTS, MODEL_FAMILIES, MODEL_NAMES, ditConfigFor, type DiTConfig, type DiTVariantName, type ModelFamily } from './models/dit-config.js';
export { download, DOWNLOADS } from './download.js';
export { makeGrid, type RgbImage, type ImageBatch } from './image/grid.js';
export { encodePng } from './image/png.js';
// Bulk generation (dit generate): the pure plan, and the folder steps a job runner or queue composes.
export { imageSeed, imageLabel, shardRange, chunkRanges, imageFileName, type IndexRange, type LabelPlan } from './bulk/plan.js';
export {
  planBulk,
  openBulkFolder,
  generateRange,
  scanBulkFolder,
  mergeBulkFolder,
  scoreBulkFolder,
  readBulkConfig,
  planLabels,
  type BulkConfig,
} from './bulk/run.js';
export { resolveBulkOptions, type UserBulkOptions, type ResolvedBulkOptions } from './options.js';
// The embedded model's quality numbers: FD, precision/recall of the shipped classifier's features vs the
// Fashion-MNIST test set, class accuracy and mean p(label) overall and per class, and per class the
// classes its images were given (takenFor: the misses, most first).
export {
  embeddedFd,
  EmbeddedScorer,
  takenFor,
  embeddedReference,
  embeddedRealManifold,
  type EmbeddedQuality,
  type ClassQuality,
  type RealManifold,
} from './sweep/quality.js';
export { precisionRecall, knnRadii2, countInManifold, type FeatureRows, type PrecisionRecall } from './metrics/precision-recall.js';
export { openEmbeddedClassifier } from './model-files.js';
