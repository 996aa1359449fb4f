/**
 * DiT checkpoints in every layout people have, normalised to the official key names (models.py),
 * with the config inferred from tensor shapes and validated against what the user asked for.
 *
 * Layouts: official (bare state dict), ddp (`module.` prefixes), train-checkpoint (train.py's
 * {model, ema, opt, args}: ema is used), diffusers (Transformer2DModel, facebook/DiT-XL-2-256), and
 * split-qkv (forks that replaced timm Attention: to_q/to_k/to_v, q/k/v, in_proj_weight, out_proj).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors.js';
import { DIT_VARIANTS, ditConfigFor, findVariant, ditOutChannels, matchVariant, pixelsPerCell, type DiTConfig, type DiTVariantName } from '../models/dit-config.js';
import { numelOf } from './dtype.js';
import { groupKeys, limitLines } from './keys.js';
import { concatDim0, derivedTensor } from './lazy.js';
import { openStateDict, type CheckpointFormat, type OpenedStateDict } from './open.js';
import { sincosPosEmbed2d } from './pos-embed.js';
import type { DType, LazyTensor, StateDict } from './types.js';

export type DiTLayout = 'official' | 'ddp' | 'train-checkpoint' | 'diffusers' | 'split-qkv';

export interface LoadDiTOptions {
  /** A config.json with the DiT constructor's names (or a diffusers transformer config). */
  readonly config?: string;
  /** The variant the user asked for; the file must fit it. */
  readonly model?: DiTVariantName | string;
  /** Requested image side in pixels (latent = size / 8 for 4-channel latent models). */
  readonly imageSize?: number;
  /** Requested number of classes (without the null class). */
  readonly numClasses?: number;
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
  readonly weights: StateDict; // canonical official names, in models.py order
  readonly warnings: string[];
  /** Why the file cannot be used as asked: missing/unexpected/mis-shaped keys, mismatches. */
  readonly problems: string[];
}

export interface DiTCheckpoint extends DiTInspection {
  readonly config: DiTConfig;
}

/** Loads a DiT checkpoint (file or folder) or throws a UsageError that lists every problem. */
export function loadDiTCheckpoint(pathOrDir: string, opts: LoadDiTOptions = {}): DiTCheckpoint {
  const info = inspectDiTCheckpoint(pathOrDir, opts);
  if (info.problems.length > 0 || info.config === undefined) {
    info.weights.close();
    throw new UsageError(`${info.path} cannot be loaded as asked:\n  ${info.problems.join('\n  ')}`);
  }
  return info as DiTCheckpoint;
}

/** Everything `dit inspect` shows; problems are collected, not thrown. */
export function inspectDiTCheckpoint(pathOrDir: string, opts: LoadDiTOptions = {}): DiTInspection {
  const files = resolveDiTFiles(pathOrDir, opts.config);
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
  if (!found) throw new UsageError(`model "${name}" is not a DiT variant: must be one of ${Object.keys(DIT_VARIANTS).join(', ')}`);
  return found;
}

interface DiTFiles {
  readonly weights: string;
  readonly config: string | undefined;
  readonly modelIndex: string | undefined;
}

const WEIGHT_EXTENSIONS = ['.safetensors', '.pt', '.pth', '.bin', '.ckpt'];

/** A folder (diffusers pipeline, transformer/ folder, or a folder with one weights file) or a file. */
function resolveDiTFiles(pathOrDir: string, configOverride: string | undefined): DiTFiles {
  if (!fs.existsSync(pathOrDir)) throw new UsageError(`checkpoint ${pathOrDir} does not exist: pass a .pt/.pth/.bin/.safetensors file or a diffusers folder`);
  let weights = pathOrDir;
  if (fs.statSync(pathOrDir).isDirectory()) {
    const dir = fs.existsSync(path.join(pathOrDir, 'transformer')) ? path.join(pathOrDir, 'transformer') : pathOrDir;
    weights = pickWeightsFile(dir);
  }
  const dir = path.dirname(weights);
  const besides = path.join(dir, 'config.json');
  const modelIndex = [path.join(dir, 'model_index.json'), path.join(dir, '..', 'model_index.json')].find((p) => fs.existsSync(p));
  if (configOverride !== undefined && !fs.existsSync(configOverride)) throw new UsageError(`--config ${configOverride} does not exist`);
  return { weights, config: configOverride ?? (fs.existsSync(besides) ? besides : undefined), modelIndex };
}

export function pickWeightsFile(dir: string, preferred: readonly string[] = ['diffusion_pytorch_model.safetensors', 'model.safetensors', 'diffusion_pytorch_model.bin']): string {
  const names = fs.readdirSync(dir).filter((n) => WEIGHT_EXTENSIONS.some((e) => n.endsWith(e)));
  const pick = preferred.find((p) => names.includes(p)) ?? (names.length === 1 ? names[0] : undefined);
  if (pick === undefined) {
    throw new UsageError(
      names.length === 0
        ? `folder ${dir} has no weights file (${WEIGHT_EXTENSIONS.join(', ')}); pass the file itself or a diffusers folder`
        : `folder ${dir} has several weights files (${names.join(', ')}); pass the one to use`,
    );
  }
  return path.join(dir, pick);
}

interface Normalised {
  readonly tensors: Map<string, LazyTensor>;
  readonly layout: DiTLayout;
  readonly problems: string[];
  readonly notes: string[];
}

type Rule = readonly [RegExp, string | 'drop' | 'qkv'];

/** diffusers Transformer2DModel → official (the inverse of diffusers' convert_dit_to_diffusers). */
const DIFFUSERS_RULES: readonly Rule[] = [
  [/^pos_embed\.proj\.(weight|bias)$/, 'x_embedder.proj.$1'],
  [/^transformer_blocks\.0\.norm1\.emb\.timestep_embedder\.linear_1\.(weight|bias)$/, 't_embedder.mlp.0.$1'],
  [/^transformer_blocks\.0\.norm1\.emb\.timestep_embedder\.linear_2\.(weight|bias)$/, 't_embedder.mlp.2.$1'],
  [/^transformer_blocks\.0\.norm1\.emb\.class_embedder\.embedding_table\.weight$/, 'y_embedder.embedding_table.weight'],
  // Every block carries a copy of the embedders; block 0's is the one used.
  [/^transformer_blocks\.\d+\.norm1\.emb\./, 'drop'],
  [/^transformer_blocks\.(\d+)\.norm1\.linear\.(weight|bias)$/, 'blocks.$1.adaLN_modulation.1.$2'],
  [/^transformer_blocks\.(\d+)\.attn1\.to_([qkv])\.(weight|bias)$/, 'qkv'],
  [/^transformer_blocks\.(\d+)\.attn1\.to_out\.0\.(weight|bias)$/, 'blocks.$1.attn.proj.$2'],
  [/^transformer_blocks\.(\d+)\.ff\.net\.0\.proj\.(weight|bias)$/, 'blocks.$1.mlp.fc1.$2'],
  [/^transformer_blocks\.(\d+)\.ff\.net\.2\.(weight|bias)$/, 'blocks.$1.mlp.fc2.$2'],
  [/^proj_out_1\.(weight|bias)$/, 'final_layer.adaLN_modulation.1.$1'],
  [/^proj_out_2\.(weight|bias)$/, 'final_layer.linear.$1'],
];

/** Attention namings of forks that swapped timm's Attention (xformers, flash-attn, nn.MultiheadAttention). */
const SPLIT_QKV_RULES: readonly Rule[] = [
  [/^blocks\.(\d+)\.attn\.(?:to_)?([qkv])(?:_proj)?\.(weight|bias)$/, 'qkv'],
  [/^blocks\.(\d+)\.attn\.in_proj_(weight|bias)$/, 'blocks.$1.attn.qkv.$2'],
  [/^blocks\.(\d+)\.attn\.(?:out_proj|to_out\.0|to_out|o_proj)\.(weight|bias)$/, 'blocks.$1.attn.proj.$2'],
];

/** Far above any real DiT (XL has 28 blocks). */
const MAX_DEPTH = 1024;

const STRIPPABLE_PREFIXES = ['module.', '_orig_mod.', 'model.', 'net.'];

export function normaliseDiTKeys(source: ReadonlyMap<string, LazyTensor>, container: string | undefined): Normalised {
  let entries = [...source];
  const notes: string[] = [];
  const problems: string[] = [];
  let ddp = false;
  for (let changed = true; changed; ) {
    changed = false;
    for (const prefix of STRIPPABLE_PREFIXES) {
      if (entries.length > 0 && entries.every(([k]) => k.startsWith(prefix))) {
        entries = entries.map(([k, t]) => [k.slice(prefix.length), t]);
        if (prefix === 'module.') ddp = true;
        notes.push(`stripped the "${prefix}" prefix from every key`);
        changed = true;
      }
    }
  }
  const diffusers = entries.some(([k]) => k.startsWith('transformer_blocks.') || k.startsWith('pos_embed.proj.'));
  const rules = diffusers ? DIFFUSERS_RULES : SPLIT_QKV_RULES;
  const out = new Map<string, LazyTensor>();
  const pieces = new Map<string, Map<string, LazyTensor>>();
  let renamed = 0;
  const put = (name: string, t: LazyTensor, from: string): void => {
    if (out.has(name)) problems.push(`two tensors map to ${name} (one is ${from}): the file mixes layouts`);
    out.set(name, t);
  };
  for (const [key, t] of entries) {
    const rule = rules.find(([re]) => re.test(key));
    if (!rule) {
      put(key, t, key);
      continue;
    }
    renamed++;
    const [re, target] = rule;
    if (target === 'drop') continue;
    if (target === 'qkv') {
      const m = re.exec(key)!;
      const name = `blocks.${m[1]}.attn.qkv.${m[3]}`;
      const p = pieces.get(name) ?? new Map<string, LazyTensor>();
      p.set(m[2]!, t);
      pieces.set(name, p);
      continue;
    }
    put(key.replace(re, target), t, key);
  }
  for (const [name, p] of pieces) {
    const [q, k, v] = ['q', 'k', 'v'].map((x) => p.get(x));
    if (!q || !k || !v) {
      problems.push(`${name}: found ${[...p.keys()].join(', ')} but q, k and v are all needed to build it`);
      continue;
    }
    if (q.shape.join() !== k.shape.join() || q.shape.join() !== v.shape.join()) {
      problems.push(`${name}: q, k, v shapes differ ([${q.shape}], [${k.shape}], [${v.shape}])`);
      continue;
    }
    put(name, concatDim0([q, k, v]), name);
  }
  const layout: DiTLayout = diffusers ? 'diffusers' : renamed > 0 ? 'split-qkv' : container !== undefined ? 'train-checkpoint' : ddp ? 'ddp' : 'official';
  return { tensors: out, layout, problems, notes };
}

/** Every parameter of a DiT with its shape, in models.py's state_dict order. */
export function ditParameterShapes(c: DiTConfig): Map<string, number[]> {
  const D = c.hidden_size;
  const p = c.patch_size;
  const mlp = Math.floor(D * c.mlp_ratio);
  const grid = c.input_size / p;
  const rows = c.num_classes + (c.class_dropout_prob > 0 ? 1 : 0);
  const s = new Map<string, number[]>([
    ['pos_embed', [1, grid * grid, D]],
    ['x_embedder.proj.weight', [D, c.in_channels, p, p]],
    ['x_embedder.proj.bias', [D]],
    ['t_embedder.mlp.0.weight', [D, 256]],
    ['t_embedder.mlp.0.bias', [D]],
    ['t_embedder.mlp.2.weight', [D, D]],
    ['t_embedder.mlp.2.bias', [D]],
    ['y_embedder.embedding_table.weight', [rows, D]],
  ]);
  for (let i = 0; i < c.depth; i++) {
    const b = `blocks.${i}.`;
    s.set(`${b}attn.qkv.weight`, [3 * D, D]);
    s.set(`${b}attn.qkv.bias`, [3 * D]);
    s.set(`${b}attn.proj.weight`, [D, D]);
    s.set(`${b}attn.proj.bias`, [D]);
    s.set(`${b}mlp.fc1.weight`, [mlp, D]);
    s.set(`${b}mlp.fc1.bias`, [mlp]);
    s.set(`${b}mlp.fc2.weight`, [D, mlp]);
    s.set(`${b}mlp.fc2.bias`, [D]);
    s.set(`${b}adaLN_modulation.1.weight`, [6 * D, D]);
    s.set(`${b}adaLN_modulation.1.bias`, [6 * D]);
  }
  s.set('final_layer.linear.weight', [p * p * ditOutChannels(c), D]);
  s.set('final_layer.linear.bias', [p * p * ditOutChannels(c)]);
  s.set('final_layer.adaLN_modulation.1.weight', [2 * D, D]);
  s.set('final_layer.adaLN_modulation.1.bias', [2 * D]);
  return s;
}

/** Grouped differences between the keys/shapes a config needs and what the file has. */
export function diffAgainst(expected: ReadonlyMap<string, number[]>, actual: ReadonlyMap<string, LazyTensor>): string[] {
  const missing = [...expected.keys()].filter((k) => !actual.has(k));
  const unexpected = [...actual.keys()].filter((k) => !expected.has(k));
  const mismatched = [...expected].filter(([k, s]) => actual.has(k) && actual.get(k)!.shape.join() !== s.join()).map(([k]) => k);
  const lines: string[] = [];
  if (missing.length) lines.push(`missing keys: ${limitLines(groupKeys(missing)).join(', ')}`);
  if (unexpected.length) lines.push(`unexpected keys: ${limitLines(groupKeys(unexpected)).join(', ')}`);
  if (mismatched.length) {
    const shape = (k: string): string => `: file [${actual.get(k)!.shape.join(', ')}], expected [${expected.get(k)!.join(', ')}]`;
    lines.push(`shape mismatches: ${limitLines(groupKeys(mismatched, shape)).join('; ')}`);
  }
  return lines;
}

function readJson(file: string): Record<string, unknown> {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf-8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`config ${file} cannot be read: ${(err as Error).message}; it must be a JSON object (DiT constructor arguments or a diffusers config)`);
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** What a config.json (DiT constructor names or diffusers names) says, in DiT names. */
function configFromJson(j: Record<string, unknown>): Partial<DiTConfig> {
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

function pixelsOf(c: Pick<DiTConfig, 'input_size' | 'in_channels'>): number {
  return c.input_size * pixelsPerCell(c);
}

export function describeDiT(c: DiTConfig, variant: DiTVariantName | undefined): string {
  const px = pixelsOf(c);
  const name = variant ?? `DiT (depth ${c.depth}, hidden ${c.hidden_size}, patch ${c.patch_size})`;
  return `${name} ${px}×${px} checkpoint (input_size ${c.input_size}, ${c.num_classes} classes${c.class_dropout_prob > 0 ? ' + null class' : ''})`;
}

function analyse(sd: OpenedStateDict, files: DiTFiles, requested: DiTVariantName | undefined, opts: LoadDiTOptions): DiTInspection {
  const warnings = [...sd.warnings];
  const norm = normaliseDiTKeys(sd.tensors, sd.container);
  const problems = [...norm.problems];
  if (sd.container !== undefined) warnings.push(`using the "${sd.container}" weights of a training checkpoint (ignored: ${sd.ignored.join(', ')})`);
  const t = norm.tensors;
  const json = files.config ? configFromJson(readJson(files.config)) : {};
  const args = sd.trainArgs ?? {};
  let classLabels: string[] | undefined;
  if (files.modelIndex) {
    const id2label = readJson(files.modelIndex).id2label;
    if (id2label && typeof id2label === 'object') {
      const entries = Object.entries(id2label as Record<string, unknown>).filter(([k, v]) => /^\d+$/.test(k) && typeof v === 'string');
      classLabels = [];
      for (const [k, v] of entries) classLabels[Number(k)] = v as string;
    }
  }

  const dtypes = [...new Set([...sd.tensors.values()].map((x) => x.dtype))];
  const done = (config: DiTConfig | undefined, variant: DiTVariantName | undefined, weights: Map<string, LazyTensor>): DiTInspection => {
    let parameterCount = 0;
    for (const x of weights.values()) parameterCount += numelOf(x.shape);
    const description = config ? describeDiT(config, variant) : 'not a DiT checkpoint';
    return {
      path: files.weights,
      format: sd.format,
      layout: norm.layout,
      container: sd.container,
      dtypes,
      parameterCount,
      config,
      variant,
      imageSize: config ? pixelsOf(config) : undefined,
      classLabels,
      description,
      weights: { tensors: weights, close: sd.close },
      warnings,
      problems,
    };
  };

  // 1. Shapes fix everything but the heads (and, for diffusers, the input size).
  const xw = t.get('x_embedder.proj.weight');
  if (!xw || xw.shape.length !== 4 || xw.shape[2] !== xw.shape[3]) {
    const sample = [...sd.tensors.keys()].slice(0, 4).join(', ');
    problems.push(`no patch embedding (x_embedder.proj.weight [hidden, channels, p, p]), so this is not a DiT checkpoint; its keys start with: ${sample}`);
    return done(undefined, undefined, t);
  }
  const [hidden, inChannels, patch] = xw.shape as [number, number, number, number];
  const blockIds = new Set<number>();
  for (const k of t.keys()) {
    const m = /^blocks\.(\d+)\./.exec(k);
    if (m) blockIds.add(Number(m[1]));
  }
  const depth = blockIds.size === 0 ? 0 : Math.max(...blockIds) + 1;
  if (depth > MAX_DEPTH) {
    // A corrupt or hostile key like blocks.999999999.x must not make us enumerate a billion blocks.
    problems.push(`block index ${depth - 1} is implausible (at most ${MAX_DEPTH - 1}); the key names are corrupt`);
    return done(undefined, undefined, t);
  }
  const finalW = t.get('final_layer.linear.weight')?.shape;
  const outChannels = finalW ? finalW[0]! / (patch * patch) : inChannels;
  const learnSigma = outChannels === 2 * inChannels;
  if (finalW && outChannels !== inChannels && !learnSigma) {
    problems.push(`final_layer.linear.weight [${finalW.join(', ')}] gives ${outChannels} output channels for ${inChannels} input channels; expected ${inChannels} or ${2 * inChannels}`);
  }
  const fc1 = t.get('blocks.0.mlp.fc1.weight')?.shape;
  const mlpRatio = fc1 ? fc1[0]! / hidden : 4;

  const table = t.get('y_embedder.embedding_table.weight')?.shape;
  const rows = table ? table[0]! : 0;
  const statedClasses = json.num_classes ?? num(args.num_classes);
  let numClasses = rows - 1;
  let dropout = json.class_dropout_prob !== undefined && json.class_dropout_prob > 0 ? json.class_dropout_prob : 0.1;
  if (statedClasses !== undefined && rows === statedClasses) {
    numClasses = rows;
    dropout = 0;
  } else if (statedClasses !== undefined && rows !== statedClasses + 1) {
    problems.push(`the class table has ${rows} rows but the config says ${statedClasses} classes (expected ${statedClasses} or ${statedClasses + 1} rows with the null class)`);
  }

  let inputSize: number | undefined;
  const pos = t.get('pos_embed')?.shape;
  if (pos) {
    const grid = Math.round(Math.sqrt(pos[1] ?? 0));
    if (pos.length !== 3 || grid * grid !== pos[1]) problems.push(`pos_embed has shape [${pos.join(', ')}]; expected [1, grid², hidden]`);
    inputSize = grid * patch;
  } else if (json.input_size !== undefined) {
    inputSize = json.input_size;
  } else if (num(args.image_size) !== undefined) {
    inputSize = num(args.image_size)! / pixelsPerCell({ in_channels: inChannels });
  } else if (opts.imageSize !== undefined) {
    inputSize = opts.imageSize / pixelsPerCell({ in_channels: inChannels });
  }

  // 2. Heads cannot be read from weights: a config, the requested or stored variant name, or the shapes' variant.
  const shapeVariant = matchVariant({ depth, hidden_size: hidden, patch_size: patch });
  const argsVariant = typeof args.model === 'string' && args.model in DIT_VARIANTS ? (args.model as DiTVariantName) : undefined;
  const headsFrom: Array<[number | undefined, string]> = [
    [json.num_heads, `${files.config}`],
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
  if (inputSize === undefined) {
    problems.push('the input size cannot be read from this file (no pos_embed and no sample_size in a config): pass --image-size');
  }
  if (heads === undefined || inputSize === undefined) return done(undefined, shapeVariant, t);

  const config: DiTConfig = {
    input_size: inputSize,
    patch_size: patch,
    in_channels: inChannels,
    hidden_size: hidden,
    depth,
    num_heads: heads,
    mlp_ratio: mlpRatio,
    class_dropout_prob: dropout,
    num_classes: numClasses,
    learn_sigma: learnSigma,
  };
  // A config file that contradicts the weights is a problem worth naming field by field.
  for (const [field, value] of Object.entries(json) as Array<[keyof DiTConfig, unknown]>) {
    if (value === undefined || field === 'class_dropout_prob') continue;
    if (field === 'num_classes' || (field === 'input_size' && !pos)) continue;
    if (config[field] !== value) problems.push(`${files.config} says ${field} ${String(value)} but the weights have ${String(config[field])}`);
  }

  const expected = ditParameterShapes(config);
  if (!t.has('pos_embed') && grid2(config) !== undefined) {
    const grid = config.input_size / config.patch_size;
    t.set('pos_embed', derivedTensor('F32', [1, grid * grid, hidden], () => sincosPosEmbed2d(hidden, grid)));
    if (norm.layout !== 'diffusers') warnings.push('pos_embed was missing; recomputed as the fixed 2-D sin-cos embedding');
  }
  problems.push(...diffAgainst(expected, t).map((l) => `the file is not a complete DiT: ${l}`));
  const weights = new Map<string, LazyTensor>();
  for (const k of expected.keys()) if (t.has(k)) weights.set(k, t.get(k)!);
  for (const [k, v] of t) if (!weights.has(k)) weights.set(k, v);

  // 3. What the user asked for.
  const cell = pixelsPerCell({ in_channels: inChannels });
  const pixelsPerToken = cell * patch;
  if (opts.imageSize !== undefined && opts.imageSize % pixelsPerToken !== 0) {
    problems.push(
      `--image-size ${opts.imageSize} cannot be cut into this model's tokens: it must be a multiple of ${pixelsPerToken} (${cell > 1 ? `latent = image / ${cell}, ` : ''}patch ${patch}); this is a ${describeDiT(config, shapeVariant)}; pass --image-size ${pixelsOf(config)}`,
    );
    return done(config, shapeVariant, weights);
  }
  const hints: string[] = [];
  const want: DiTConfig = {
    ...(requested ? ditConfigFor(requested, { in_channels: inChannels, learn_sigma: learnSigma, mlp_ratio: 4 }) : config),
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
  return done(config, shapeVariant, weights);
}

function grid2(c: DiTConfig): number | undefined {
  const g = c.input_size / c.patch_size;
  return Number.isInteger(g) && g > 0 ? g : undefined;
}
