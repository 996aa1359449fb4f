/**
 * A DiT's config read from its weights' shapes, with what the weights cannot say (the heads, and
 * for diffusers files the input size) taken from a config.json, the official train.py's args, the variant the
 * user asked for, or the named variant the shapes match.
 */
import { readJsonObject } from './file.js';
import { refName, type FileRef } from './discovery.js';
import { UsageError } from '../errors.js';
import { DIT_DEFAULTS, DIT_VARIANTS, MAX_IMAGE_SIZE, MAX_NUM_CLASSES, ditMlpRatioFor, ditMlpWidth, matchVariant, pixelsPerCell, type DiTConfig, type DiTVariantName } from '../models/dit-config.js';
import type { LazyTensor } from './types.js';

/** Far above any real DiT (XL has 28 blocks). */
const MAX_DEPTH = 1024;

/**
 * Most tokens (grid cells²) a DiT may have: the 256×256 grid of the largest --image-size (4096 px)
 * for a latent DiT with patch 2. The position table and attention grow with it.
 */
const MAX_TOKENS = 256 * 256;

/** What the files say besides the weights: a config.json (in DiT names) and train.py's args. */
export interface StatedConfig {
  readonly path: string | undefined; // the config.json, for messages
  readonly json: Partial<DiTConfig>; // only values within CONFIG_BOUNDS
  readonly invalid: readonly string[]; // the values that were not, as problems
  readonly args: Readonly<Record<string, unknown>>;
  readonly family: unknown; // config.json's "family" (checkpoint/family.ts reads it)
}

/** The config as far as it could be read; undefined when the weights are no DiT or something is not given. */
export interface InferredDiT {
  readonly config: DiTConfig | undefined;
  readonly variant: DiTVariantName | undefined; // the named variant the shapes match
}

export function readStatedConfig(configFile: FileRef | undefined, trainArgs: Readonly<Record<string, unknown>> | undefined): StatedConfig {
  const invalid: string[] = [];
  const path = configFile === undefined ? undefined : refName(configFile);
  const raw = configFile ? readJson(configFile) : {};
  const json = configFile ? configFromJson(raw, path!, invalid) : {};
  return { path, json, invalid, args: trainArgs ?? {}, family: raw.family };
}

/** A diffusers pipeline's id2label, as an array indexed by class id. */
export function readClassLabels(modelIndex: FileRef | undefined): string[] | undefined {
  if (!modelIndex) return undefined;
  const id2label = readJson(modelIndex).id2label;
  if (!id2label || typeof id2label !== 'object') return undefined;
  const entries = Object.entries(id2label as Record<string, unknown>).filter(([k, v]) => /^\d+$/.test(k) && typeof v === 'string');
  const labels: string[] = [];
  for (const [k, v] of entries) labels[Number(k)] = v as string;
  return labels;
}

/**
 * Reads the config from the canonical tensors `t` (official names). Every reason it cannot, and
 * every contradiction with what is stated, goes to `problems`. `fileKeys` are the keys as stored
 * (for the message when this is no DiT at all).
 */
export function inferDiTConfig(
  t: ReadonlyMap<string, LazyTensor>,
  fileKeys: Iterable<string>,
  stated: StatedConfig,
  requested: DiTVariantName | undefined,
  imageSize: number | undefined,
  problems: string[],
): InferredDiT {
  problems.push(...stated.invalid);
  const arch = readArchitecture(t, fileKeys, problems);
  if (!arch) return { config: undefined, variant: undefined };
  const { hidden, inChannels, patch, depth } = arch;
  const learnSigma = readLearnSigma(t, arch, problems);
  const mlpRatio = readMlpRatio(t, hidden, stated.json.mlp_ratio);
  const classes = readClasses(t, stated, problems);
  const inputSize = readInputSize(t, arch, stated, imageSize, problems);
  const variant = matchVariant({ depth, hidden_size: hidden, patch_size: patch });
  const heads = chooseHeads(arch, stated, requested, variant, problems);
  if (inputSize === undefined) {
    problems.push('the input size cannot be read from this file (no pos_embed and no sample_size in a config): pass --image-size');
  }
  if (inputSize !== undefined && inputSize % patch !== 0) {
    problems.push(`input_size ${inputSize} (latent or pixel cells) is not a multiple of patch_size ${patch}, so it cannot be cut into patches`);
    return { config: undefined, variant };
  }
  if (inputSize !== undefined && (inputSize / patch) ** 2 > MAX_TOKENS) {
    problems.push(`input_size ${inputSize} with patch ${patch} makes ${(inputSize / patch) ** 2} tokens, over the ${MAX_TOKENS} a DiT here may have`);
    return { config: undefined, variant };
  }
  if (heads === undefined || inputSize === undefined) return { config: undefined, variant };
  const config: DiTConfig = {
    input_size: inputSize,
    patch_size: patch,
    in_channels: inChannels,
    hidden_size: hidden,
    depth,
    num_heads: heads,
    mlp_ratio: mlpRatio,
    class_dropout_prob: classes.dropout,
    num_classes: classes.numClasses,
    learn_sigma: learnSigma,
  };
  checkAgainstStated(config, stated, t.has('pos_embed'), problems);
  return { config, variant };
}

interface Architecture {
  readonly hidden: number;
  readonly inChannels: number;
  readonly patch: number;
  readonly depth: number;
}

/** The patch embedding fixes hidden, channels and patch; the highest block index the depth. */
function readArchitecture(t: ReadonlyMap<string, LazyTensor>, fileKeys: Iterable<string>, problems: string[]): Architecture | undefined {
  const xw = t.get('x_embedder.proj.weight');
  if (!xw || xw.shape.length !== 4 || xw.shape[2] !== xw.shape[3]) {
    const sample = [...fileKeys].slice(0, 4).join(', ');
    problems.push(`no patch embedding (x_embedder.proj.weight [hidden, channels, p, p]), so this is not a DiT checkpoint; its keys start with: ${sample}`);
    return undefined;
  }
  const [hidden, inChannels, patch] = xw.shape as [number, number, number, number];
  if (hidden % 4 !== 0) {
    // models.py builds the 2-D sin-cos pos_embed from hidden/2 per axis, itself split in sin and cos halves.
    problems.push(`x_embedder.proj.weight gives hidden size ${hidden}, which is not a multiple of 4 as DiT's 2-D sin-cos position table needs`);
    return undefined;
  }
  const blockIds = new Set<number>();
  for (const k of t.keys()) {
    const m = /^blocks\.(\d+)\./.exec(k);
    if (m) blockIds.add(Number(m[1]));
  }
  // A loop, not Math.max(...ids): spreading 150k ids overflows the call stack.
  let depth = 0;
  for (const id of blockIds) depth = Math.max(depth, id + 1);
  if (depth > MAX_DEPTH) {
    // A corrupt or hostile key like blocks.999999999.x must not make us enumerate a billion blocks.
    problems.push(`block index ${depth - 1} is implausible (at most ${MAX_DEPTH - 1}); the key names are corrupt`);
    return undefined;
  }
  return { hidden, inChannels, patch, depth };
}

/** learn_sigma: the final layer puts out twice the input channels (eps, then the variance channels). */
function readLearnSigma(t: ReadonlyMap<string, LazyTensor>, { inChannels, patch }: Architecture, problems: string[]): boolean {
  const finalW = t.get('final_layer.linear.weight')?.shape;
  const outChannels = finalW ? finalW[0]! / (patch * patch) : inChannels;
  const learnSigma = outChannels === 2 * inChannels;
  if (finalW && outChannels !== inChannels && !learnSigma) {
    problems.push(`final_layer.linear.weight [${finalW.join(', ')}] gives ${outChannels} output channels for ${inChannels} input channels; expected ${inChannels} or ${2 * inChannels}`);
  }
  return learnSigma;
}

/** The stated mlp_ratio when it gives fc1's width, else one that does. */
function readMlpRatio(t: ReadonlyMap<string, LazyTensor>, hidden: number, statedRatio: number | undefined): number {
  const width = t.get('blocks.0.mlp.fc1.weight')?.shape[0];
  if (width === undefined) return DIT_DEFAULTS.mlp_ratio;
  if (statedRatio !== undefined && ditMlpWidth({ hidden_size: hidden, mlp_ratio: statedRatio }) === width) return statedRatio;
  return ditMlpRatioFor(hidden, width);
}

/** The class table has num_classes rows, plus the null class's when labels are dropped in training. */
function readClasses(t: ReadonlyMap<string, LazyTensor>, { json, args }: StatedConfig, problems: string[]): { numClasses: number; dropout: number } {
  const table = t.get('y_embedder.embedding_table.weight')?.shape;
  const rows = table ? table[0]! : 0;
  const statedClasses = json.num_classes ?? num(args.num_classes);
  if (statedClasses !== undefined && rows === statedClasses) return { numClasses: rows, dropout: 0 };
  if (statedClasses !== undefined && rows !== statedClasses + 1) {
    problems.push(`the class table has ${rows} rows but the config says ${statedClasses} classes (expected ${statedClasses} or ${statedClasses + 1} rows with the null class)`);
  }
  const dropout = json.class_dropout_prob !== undefined && json.class_dropout_prob > 0 ? json.class_dropout_prob : 0.1;
  return { numClasses: rows - 1, dropout };
}

/** From pos_embed's token count; files without it (diffusers) need a config, train.py's args or the user's size. */
function readInputSize(t: ReadonlyMap<string, LazyTensor>, { inChannels, patch }: Architecture, { json, args }: StatedConfig, imageSize: number | undefined, problems: string[]): number | undefined {
  const pos = t.get('pos_embed')?.shape;
  if (pos) {
    const grid = Math.round(Math.sqrt(pos[1] ?? 0));
    if (pos.length !== 3 || grid * grid !== pos[1]) problems.push(`pos_embed has shape [${pos.join(', ')}]; expected [1, grid², hidden]`);
    return grid * patch;
  }
  if (json.input_size !== undefined) return json.input_size;
  const pixels = num(args.image_size) ?? imageSize;
  if (pixels === undefined) return undefined;
  const cells = pixels / pixelsPerCell({ in_channels: inChannels });
  // Without pos_embed the table is built from this size: a hostile args.image_size must not ask for billions of values.
  if (!(Number.isInteger(cells) && cells >= 1 && cells <= CONFIG_BOUNDS.input_size)) {
    problems.push(`image size ${pixels} gives an input of ${cells} cells, which is not an integer from 1 to ${CONFIG_BOUNDS.input_size}`);
    return undefined;
  }
  return cells;
}

/** Heads cannot be read from weights: a config, the requested or stored variant name, or the shapes' variant. */
function chooseHeads(
  { hidden, depth, patch }: Architecture,
  { path, json, args }: StatedConfig,
  requested: DiTVariantName | undefined,
  shapeVariant: DiTVariantName | undefined,
  problems: string[],
): number | undefined {
  const argsVariant = typeof args.model === 'string' && args.model in DIT_VARIANTS ? (args.model as DiTVariantName) : undefined;
  const headsFrom: Array<[number | undefined, string]> = [
    [json.num_heads, `${path}`],
    [requested ? DIT_VARIANTS[requested].num_heads : undefined, `--model ${requested}`],
    [argsVariant ? DIT_VARIANTS[argsVariant].num_heads : undefined, `the checkpoint's args.model ${argsVariant}`],
    [shapeVariant ? DIT_VARIANTS[shapeVariant].num_heads : undefined, `the shapes, which match ${shapeVariant}`],
  ];
  const heads = headsFrom.find(([h]) => h !== undefined)?.[0];
  if (heads === undefined) {
    problems.push(
      `the number of attention heads cannot be read from weights and nothing gives it (hidden ${hidden}, depth ${depth}, patch ${patch} is no named variant): put a config.json with "num_heads" next to the weights or pass --config`,
    );
  } else if (hidden % heads !== 0) {
    problems.push(`hidden size ${hidden} is not divisible by ${heads} heads`);
  }
  return heads;
}

/** A config file that contradicts the weights is a problem worth naming field by field. */
function checkAgainstStated(config: DiTConfig, { path, json }: StatedConfig, hasPosEmbed: boolean, problems: string[]): void {
  for (const [field, value] of Object.entries(json) as Array<[keyof DiTConfig, unknown]>) {
    if (value === undefined || field === 'class_dropout_prob') continue;
    if (field === 'num_classes' || (field === 'input_size' && !hasPosEmbed)) continue;
    if (config[field] !== value) problems.push(`${path} says ${field} ${String(value)} but the weights have ${String(config[field])}`);
  }
}

function readJson(file: FileRef): Record<string, unknown> {
  try {
    return readJsonObject(file);
  } catch (err) {
    throw new UsageError(`config ${refName(file)} cannot be read: ${(err as Error).message}; it must be a JSON object (DiT constructor arguments or a diffusers config)`);
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/**
 * The values a config.json may give, checked where it is read so that `dit inspect` reports what
 * would otherwise crash the graph builder later (0.5 or −2 heads, a 200000-cell input). Sizes are
 * integers from 1 to the bound; the bounds are far above any real DiT (XL: hidden 1152, depth 28,
 * 16 heads, input 64 cells).
 */
const CONFIG_BOUNDS: Readonly<Record<'input_size' | 'patch_size' | 'in_channels' | 'hidden_size' | 'depth' | 'num_heads' | 'num_classes', number>> = {
  input_size: MAX_IMAGE_SIZE, // cells; at most the largest --image-size in pixels
  patch_size: 64,
  in_channels: 64,
  hidden_size: 16384,
  depth: MAX_DEPTH,
  num_heads: 1024,
  num_classes: MAX_NUM_CLASSES,
};

/** What a config.json (DiT constructor names or diffusers names) says, in DiT names; out-of-bounds values go to `invalid`. */
function configFromJson(j: Record<string, unknown>, file: string, invalid: string[]): Partial<DiTConfig> {
  const raw = rawConfigFromJson(j);
  const out: Partial<DiTConfig> = { ...raw };
  const drop = (field: keyof DiTConfig, allowed: string): void => {
    invalid.push(`${file} says ${field} ${String(raw[field])}, which is not ${allowed}`);
    delete out[field];
  };
  for (const [field, max] of Object.entries(CONFIG_BOUNDS) as Array<[keyof typeof CONFIG_BOUNDS, number]>) {
    const v = raw[field];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1 && v <= max)) drop(field, `an integer from 1 to ${max}`);
  }
  if (raw.mlp_ratio !== undefined && !(raw.mlp_ratio > 0 && raw.mlp_ratio <= 64)) drop('mlp_ratio', 'a number above 0 and at most 64');
  if (raw.class_dropout_prob !== undefined && !(raw.class_dropout_prob >= 0 && raw.class_dropout_prob < 1)) drop('class_dropout_prob', 'a probability from 0 to below 1');
  return out;
}

function rawConfigFromJson(j: Record<string, unknown>): Partial<DiTConfig> {
  if ('num_attention_heads' in j || 'num_layers' in j) {
    const heads = num(j.num_attention_heads);
    const headDim = num(j.attention_head_dim);
    return {
      num_heads: heads,
      hidden_size: heads !== undefined && headDim !== undefined ? heads * headDim : undefined,
      depth: num(j.num_layers),
      input_size: num(j.sample_size),
      patch_size: num(j.patch_size),
      in_channels: num(j.in_channels),
      num_classes: num(j.num_embeds_ada_norm),
    };
  }
  return {
    input_size: num(j.input_size),
    patch_size: num(j.patch_size),
    in_channels: num(j.in_channels),
    hidden_size: num(j.hidden_size),
    depth: num(j.depth),
    num_heads: num(j.num_heads),
    mlp_ratio: num(j.mlp_ratio),
    class_dropout_prob: num(j.class_dropout_prob),
    num_classes: num(j.num_classes),
    learn_sigma: typeof j.learn_sigma === 'boolean' ? j.learn_sigma : undefined,
  };
}
