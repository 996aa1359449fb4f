/**
 * DiT checkpoints in every layout people have, normalised to the official key names (facebookresearch/DiT models.py),
 * with the config inferred from tensor shapes and validated against what the user asked for.
 *
 * Layouts: official (bare state dict), ddp (`module.` prefixes), train-checkpoint (the official train.py's
 * {model, ema, opt, args}: ema is used), diffusers (Transformer2DModel, facebook/DiT-XL-2-256), and
 * split-qkv (forks that replaced timm Attention: to_q/to_k/to_v, q/k/v, in_proj_weight, out_proj).
 * The steps live beside this file: discovery.ts (which files), dit-rename.ts (key names),
 * dit-infer.ts (the config), key-diff.ts (the keys against the parameter table).
 */
import { assert, UsageError } from '../errors.js';
import { DIT_VARIANTS, ditConfigFor, findVariant, modelName, pixelsPerCell, type DiTConfig, type DiTVariantName, type ModelFamily } from '../models/dit-config.js';
import { ditParameterShapes } from '../models/dit-shapes.js';
import { refName, resolveDiTFiles, type DiTFiles } from './discovery.js';
import { normaliseDiTKeys, type DiTLayout, type RenamedDiTKeys } from './dit-rename.js';
import { inferDiTConfig, readClassLabels, readStatedConfig } from './dit-infer.js';
import { numelOf } from './dtype.js';
import { diffAgainst, inExpectedOrder } from './key-diff.js';
import { chooseFamily, detectFamily, REPA_PROJECTOR_PREFIX, type FamilyFinding } from './family.js';
import { derivedTensor, finiteChecked } from './lazy.js';
import { openStateDict, type CheckpointFormat, type OpenedStateDict } from './open.js';
import { sincosPosEmbed2d } from './pos-embed.js';
import type { DType, LazyTensor, StateDict } from './types.js';

export type { DiTLayout } from './dit-rename.js';

export interface LoadDiTOptions {
  /** A config.json with the DiT constructor's names (or a diffusers transformer config). */
  readonly config?: string;
  /** The variant the user asked for; the file must fit it. */
  readonly model?: DiTVariantName | string;
  /** Requested image side in pixels (latent = size / 8 for 4-channel latent models). */
  readonly imageSize?: number;
  /** Requested number of classes (without the null class). */
  readonly numClasses?: number;
  /** The family the user asked for (--family, or --model's); undefined = what the file says, else DiT. */
  readonly family?: ModelFamily;
}

export interface DiTInspection {
  readonly path: string; // the weights file that was read
  readonly format: CheckpointFormat;
  readonly layout: DiTLayout;
  readonly container: string | undefined; // e.g. 'ema' for train.py checkpoints
  readonly dtypes: DType[];
  readonly parameterCount: number;
  readonly config: DiTConfig | undefined; // undefined when the shapes do not make a DiT
  readonly variant: DiTVariantName | undefined;
  readonly imageSize: number | undefined; // pixels
  readonly classLabels: string[] | undefined; // diffusers model_index.json id2label
  readonly description: string;
  readonly weights: StateDict; // canonical official names, in the official state_dict order
  readonly warnings: string[];
  /** Why the file cannot be used as asked: missing/unexpected/mis-shaped keys, mismatches. */
  readonly problems: string[];
  /** What the files say about the family (REPA's keys, config.json, train args); see family.ts. */
  readonly familyFound: FamilyFinding;
}

export interface DiTCheckpoint extends DiTInspection {
  readonly config: DiTConfig;
  /** The family it runs as: the user's, else the file's, else DiT (`familyAssumed`). */
  readonly family: ModelFamily;
  readonly familyAssumed: boolean;
}

/**
 * Loads a DiT checkpoint (file or folder on disk, or the files a page was given) or throws a
 * UsageError that lists every problem.
 */
export function loadDiTCheckpoint(pathOrDir: string | DiTFiles, opts: LoadDiTOptions = {}): DiTCheckpoint {
  const info = inspectDiTCheckpoint(pathOrDir, opts);
  if (info.problems.length > 0 || info.config === undefined) {
    info.weights.close();
    throw new UsageError(`${info.path} cannot be loaded as asked:\n  ${info.problems.join('\n  ')}`);
  }
  try {
    const { family, assumed } = chooseFamily(info.familyFound, opts.family, info.path);
    return { ...info, config: info.config, family, familyAssumed: assumed };
  } catch (err) {
    info.weights.close();
    throw err;
  }
}

/** Everything `dit inspect` shows; problems are collected, not thrown. */
export function inspectDiTCheckpoint(pathOrDir: string | DiTFiles, opts: LoadDiTOptions = {}): DiTInspection {
  const files = typeof pathOrDir === 'string' ? resolveDiTFiles(pathOrDir, opts.config) : pathOrDir;
  const requested = opts.model === undefined ? undefined : variantName(opts.model);
  const sd = openStateDict(files.weights);
  try {
    return analyse(sd, files, requested, opts);
  } catch (err) {
    sd.close();
    throw err;
  }
}

function variantName(name: string): DiTVariantName {
  const found = findVariant(name);
  assert(found, () => `model "${name}" is not a DiT variant: must be one of ${Object.keys(DIT_VARIANTS).join(', ')}`);
  return found;
}

/** What `dit inspect` says a checkpoint is, e.g. "DiT-XL/2 256×256 checkpoint (input_size 32, 1000 classes + null class)". */
function describeDiT(c: DiTConfig, variant: DiTVariantName | undefined, family: ModelFamily = 'dit'): string {
  const px = pixelsOf(c);
  const name = variant ? modelName(family, variant) : `${modelName(family, 'DiT-XL/2').replace(/-XL\/2$/, '')} (depth ${c.depth}, hidden ${c.hidden_size}, patch ${c.patch_size})`;
  return `${name} ${px}×${px} checkpoint (input_size ${c.input_size}, ${c.num_classes} classes${c.class_dropout_prob > 0 ? ' + null class' : ''})`;
}

function pixelsOf(c: Pick<DiTConfig, 'input_size' | 'in_channels'>): number {
  return c.input_size * pixelsPerCell(c);
}

/** Warnings and problems, in the order they are found. */
interface Findings {
  readonly warnings: string[];
  readonly problems: string[];
}

function analyse(sd: OpenedStateDict, files: DiTFiles, requested: DiTVariantName | undefined, opts: LoadDiTOptions): DiTInspection {
  // 1. Official names, and what the files state besides the weights.
  const renamed = normaliseDiTKeys(sd.tensors, sd.container);
  const found: Findings = { warnings: [...sd.warnings], problems: [...renamed.problems] };
  if (sd.container !== undefined) found.warnings.push(`using the "${sd.container}" weights of a training checkpoint (ignored: ${sd.ignored.join(', ')})`);
  const stated = readStatedConfig(files.config, sd.trainArgs);
  const familyFound = detectFamily(renamed.tensors.keys(), stated.family, stated.path, sd.trainArgs);
  if (familyFound.invalid) found.problems.push(familyFound.invalid);
  // REPA's projectors align hidden states with an image encoder in training; sampling never runs them.
  const projectors = [...renamed.tensors.keys()].filter((k) => k.startsWith(REPA_PROJECTOR_PREFIX));
  for (const k of projectors) renamed.tensors.delete(k);
  if (projectors.length > 0) found.warnings.push(`ignoring REPA's ${projectors.length} ${REPA_PROJECTOR_PREFIX}* tensors (used in training only)`);
  const classLabels = readClassLabels(files.modelIndex);
  const inspection = (config: DiTConfig | undefined, variant: DiTVariantName | undefined, weights: Map<string, LazyTensor>): DiTInspection =>
    describeInspection(sd, files, renamed, classLabels, found, config, variant, weights, familyFound.family ?? opts.family, familyFound);

  // 2. The config: shapes fix everything but the heads (and, for diffusers, the input size).
  const { config, variant } = inferDiTConfig(renamed.tensors, sd.tensors.keys(), stated, requested, opts.imageSize, found.problems);
  if (config === undefined) return inspection(undefined, variant, renamed.tensors);

  // 3. Every parameter that config needs, in the official order.
  const weights = finiteChecked(completeWeights(config, renamed, found), refName(files.weights));

  // 4. What the user asked for.
  checkRequest(config, variant, weights, requested, opts, found.problems);
  return inspection(config, variant, weights);
}

function describeInspection(
  sd: OpenedStateDict,
  files: DiTFiles,
  renamed: RenamedDiTKeys,
  classLabels: string[] | undefined,
  found: Findings,
  config: DiTConfig | undefined,
  variant: DiTVariantName | undefined,
  weights: Map<string, LazyTensor>,
  family: ModelFamily | undefined,
  familyFound: FamilyFinding,
): DiTInspection {
  let parameterCount = 0;
  for (const x of weights.values()) parameterCount += numelOf(x.shape);
  return {
    path: refName(files.weights),
    format: sd.format,
    layout: renamed.layout,
    container: sd.container,
    dtypes: [...new Set([...sd.tensors.values()].map((x) => x.dtype))],
    parameterCount,
    config,
    variant,
    imageSize: config ? pixelsOf(config) : undefined,
    classLabels,
    description: config ? describeDiT(config, variant, family) : 'not a DiT checkpoint',
    weights: { tensors: weights, close: sd.close },
    warnings: found.warnings,
    problems: found.problems,
    familyFound,
  };
}

/** The fixed pos_embed recomputed where the layout omits it; the keys checked against the parameter table. */
function completeWeights(config: DiTConfig, renamed: RenamedDiTKeys, found: Findings): Map<string, LazyTensor> {
  const t = renamed.tensors;
  const expected = ditParameterShapes(config);
  const grid = config.input_size / config.patch_size;
  if (!t.has('pos_embed') && Number.isInteger(grid) && grid > 0) {
    const hidden = config.hidden_size;
    t.set('pos_embed', derivedTensor('F32', [1, grid * grid, hidden], () => sincosPosEmbed2d(hidden, grid)));
    if (renamed.layout !== 'diffusers') found.warnings.push('pos_embed was missing; recomputed as the fixed 2-D sin-cos embedding');
  }
  found.problems.push(...diffAgainst(expected, t).map((l) => `the file is not a complete DiT: ${l}`));
  return inExpectedOrder(expected, t);
}

/** The file against the user's --model, --image-size and --num-classes, with the flags that would fit. */
function checkRequest(
  config: DiTConfig,
  shapeVariant: DiTVariantName | undefined,
  weights: ReadonlyMap<string, LazyTensor>,
  requested: DiTVariantName | undefined,
  opts: LoadDiTOptions,
  problems: string[],
): void {
  const cell = pixelsPerCell(config);
  const pixelsPerToken = cell * config.patch_size;
  if (opts.imageSize !== undefined && opts.imageSize % pixelsPerToken !== 0) {
    problems.push(
      `--image-size ${opts.imageSize} cannot be cut into this model's tokens: it must be a multiple of ${pixelsPerToken} (${cell > 1 ? `latent = image / ${cell}, ` : ''}patch ${config.patch_size}); this is a ${describeDiT(config, shapeVariant)}; pass --image-size ${pixelsOf(config)}`,
    );
    return;
  }
  const hints: string[] = [];
  const want: DiTConfig = {
    ...(requested ? ditConfigFor(requested, { in_channels: config.in_channels, learn_sigma: config.learn_sigma }) : config),
    input_size: opts.imageSize !== undefined ? opts.imageSize / cell : config.input_size,
    num_classes: opts.numClasses ?? config.num_classes,
    class_dropout_prob: config.class_dropout_prob,
  };
  if (requested && shapeVariant !== requested) hints.push(shapeVariant ? `--model ${shapeVariant}` : 'no --model (it is no named variant) and a --config with its num_heads');
  if (want.input_size !== config.input_size) hints.push(`--image-size ${pixelsOf(config)}`);
  if (want.num_classes !== config.num_classes) hints.push(`--num-classes ${config.num_classes}`);
  if (hints.length > 0) {
    const asked = `${requested ?? 'the requested model'} ${pixelsOf(want)}×${pixelsOf(want)} with ${want.num_classes} classes`;
    const diff = diffAgainst(ditParameterShapes(want), weights);
    problems.push(`the file does not fit ${asked}${diff.length ? `:\n    ${diff.join('\n    ')}` : ''}\n  this is a ${describeDiT(config, shapeVariant)}; pass ${hints.join(' ')}`);
  }
}
