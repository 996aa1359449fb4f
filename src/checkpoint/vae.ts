/**
 * AutoencoderKL weights in the three namings seen in the wild, normalised to diffusers' current
 * names (see models/vae-config.ts): new (to_q/to_k/to_v/to_out.0), old 2022 files
 * (query/key/value/proj_attn), and original LDM / Stable Diffusion checkpoints
 * (first_stage_model.decoder.up.{n-1-i}.block.{j}, mid.attn_1.q/k/v/proj_out as 1×1 convs).
 */
import * as fs from 'node:fs';
import { readJsonObject } from './file.js';
import * as path from 'node:path';
import { UsageError } from '../errors.js';
import { SD_VAE_CONFIG, vaeDecoderParameterShapes, type VaeConfig } from '../models/vae-config.js';
import { pickWeightsFile, refName, type FileRef } from './discovery.js';
import { VAE_WEIGHT_NAMES } from './names.js';
import { diffAgainst, inExpectedOrder } from './key-diff.js';
import { finiteChecked, reshaped } from './lazy.js';
import { openStateDict, type CheckpointFormat } from './open.js';
import type { LazyTensor, StateDict } from './types.js';

export type VaeLayout = 'diffusers' | 'diffusers-old-attention' | 'ldm';

export interface VaeCheckpoint {
  readonly path: string; // the weights file read
  readonly config: VaeConfig;
  readonly weights: StateDict; // canonical names (diffusers new naming)
  readonly scalingFactor: number;
  readonly format: CheckpointFormat;
  readonly layout: VaeLayout;
  readonly warnings: string[];
}

const OLD_ATTENTION: Readonly<Record<string, string>> = { query: 'to_q', key: 'to_k', value: 'to_v', proj_attn: 'to_out.0' };

/** A diffusers key under the old attention names (query/key/value/proj_attn) as the current ones name it; undefined for any other key. */
export function currentAttentionName(key: string): string | undefined {
  const m = /^(.*\.attentions\.\d+\.)(query|key|value|proj_attn)\.(weight|bias)$/.exec(key);
  return m ? `${m[1]}${OLD_ATTENTION[m[2]!]}.${m[3]}` : undefined;
}
const LDM_ATTENTION: Readonly<Record<string, string>> = { norm: 'group_norm', q: 'to_q', k: 'to_k', v: 'to_v', proj_out: 'to_out.0' };

/** One LDM key → its diffusers name (`levels` = number of resolution levels, for the reversed up index). */
function ldmToDiffusers(key: string, levels: number): string | undefined {
  let m: RegExpExecArray | null;
  const resnetPart = (s: string): string => s.replace(/^nin_shortcut\./, 'conv_shortcut.');
  if ((m = /^(encoder|decoder)\.(conv_in|conv_out)\.(weight|bias)$/.exec(key))) return key;
  if ((m = /^(encoder|decoder)\.norm_out\.(weight|bias)$/.exec(key))) return `${m[1]}.conv_norm_out.${m[2]}`;
  if ((m = /^encoder\.down\.(\d+)\.block\.(\d+)\.(.+)$/.exec(key))) return `encoder.down_blocks.${m[1]}.resnets.${m[2]}.${resnetPart(m[3]!)}`;
  if ((m = /^encoder\.down\.(\d+)\.downsample\.conv\.(weight|bias)$/.exec(key))) return `encoder.down_blocks.${m[1]}.downsamplers.0.conv.${m[2]}`;
  // LDM numbers decoder levels from the lowest resolution up; diffusers from the first one run.
  if ((m = /^decoder\.up\.(\d+)\.block\.(\d+)\.(.+)$/.exec(key))) return `decoder.up_blocks.${levels - 1 - Number(m[1])}.resnets.${m[2]}.${resnetPart(m[3]!)}`;
  if ((m = /^decoder\.up\.(\d+)\.upsample\.conv\.(weight|bias)$/.exec(key))) return `decoder.up_blocks.${levels - 1 - Number(m[1])}.upsamplers.0.conv.${m[2]}`;
  if ((m = /^(encoder|decoder)\.mid\.block_([12])\.(.+)$/.exec(key))) return `${m[1]}.mid_block.resnets.${Number(m[2]) - 1}.${resnetPart(m[3]!)}`;
  if ((m = /^(encoder|decoder)\.mid\.attn_1\.(norm|q|k|v|proj_out)\.(weight|bias)$/.exec(key))) return `${m[1]}.mid_block.attentions.0.${LDM_ATTENTION[m[2]!]}.${m[3]}`;
  if ((m = /^(post_quant_conv|quant_conv)\.(weight|bias)$/.exec(key))) return key;
  return undefined;
}

function normaliseVaeKeys(source: ReadonlyMap<string, LazyTensor>): { tensors: Map<string, LazyTensor>; layout: VaeLayout; warnings: string[] } {
  const warnings: string[] = [];
  let entries = [...source];
  // A full Stable Diffusion checkpoint carries the VAE under first_stage_model.
  if (entries.some(([k]) => k.startsWith('first_stage_model.'))) {
    const kept = entries.filter(([k]) => k.startsWith('first_stage_model.'));
    if (kept.length < entries.length) warnings.push(`used the ${kept.length} first_stage_model.* tensors; ${entries.length - kept.length} others (UNet, text encoder) were ignored`);
    entries = kept.map(([k, t]) => [k.slice('first_stage_model.'.length), t]);
  }
  for (const prefix of ['vae.', 'module.']) if (entries.length > 0 && entries.every(([k]) => k.startsWith(prefix))) entries = entries.map(([k, t]) => [k.slice(prefix.length), t]);
  const out = new Map<string, LazyTensor>();
  const ldm = entries.some(([k]) => /^(encoder|decoder)\.(up|down|mid)\./.test(k));
  if (ldm) {
    const levels = new Set(entries.map(([k]) => /^decoder\.up\.(\d+)\./.exec(k)?.[1]).filter((x) => x !== undefined)).size;
    let dropped = 0;
    for (const [k, t] of entries) {
      const name = ldmToDiffusers(k, levels);
      if (name === undefined) {
        dropped++; // e.g. loss.* (the training discriminator)
        continue;
      }
      // LDM attention projections are 1×1 convolutions; diffusers stores them as Linear weights.
      const isAttnProj = /attentions\.0\.(to_q|to_k|to_v|to_out\.0)\.weight$/.test(name) && t.shape.length === 4;
      out.set(name, isAttnProj ? reshaped(t, t.shape.slice(0, 2)) : t);
    }
    if (dropped > 0) warnings.push(`${dropped} tensors outside the autoencoder (e.g. loss.*) were ignored`);
    return { tensors: out, layout: 'ldm', warnings };
  }
  let old = false;
  for (const [k, t] of entries) {
    const renamed = currentAttentionName(k);
    if (renamed) old = true;
    out.set(renamed ?? k, t);
  }
  return { tensors: out, layout: old ? 'diffusers-old-attention' : 'diffusers', warnings };
}

/**
 * Bounds of a VAE config.json's values, checked where it is read so that a value that would crash
 * the decoder's graph (norm_num_groups −4) is named instead. Far above the SD VAE (128…512
 * channels, 32 groups, 4 levels).
 */
const VAE_BOUNDS = { channels: 8192, levels: 8, layers_per_block: 16 } as const;

function readConfig(ref: FileRef, invalid: string[]): Partial<VaeConfig> {
  const file = refName(ref);
  let j: Record<string, unknown>;
  try {
    j = readJsonObject(ref);
  } catch (err) {
    throw new UsageError(`VAE config ${file} cannot be read: ${(err as Error).message}; expected a diffusers AutoencoderKL config.json`);
  }
  const isCount = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max;
  const count = (field: keyof VaeConfig, max: number): number | undefined => {
    const v = j[field];
    if (v === undefined) return undefined;
    if (isCount(v, max)) return v;
    invalid.push(`${file} says ${field} ${String(JSON.stringify(v)).slice(0, 40)}, which is not an integer from 1 to ${max}`);
    return undefined;
  };
  let blocks: number[] | undefined;
  const b = j.block_out_channels;
  if (b !== undefined) {
    if (Array.isArray(b) && b.length >= 1 && b.length <= VAE_BOUNDS.levels && b.every((c) => isCount(c, VAE_BOUNDS.channels))) blocks = b as number[];
    else invalid.push(`${file} says block_out_channels ${String(JSON.stringify(b)).slice(0, 40)}, which is not a list of 1 to ${VAE_BOUNDS.levels} integers from 1 to ${VAE_BOUNDS.channels}`);
  }
  let scaling: number | undefined;
  if (j.scaling_factor !== undefined) {
    if (typeof j.scaling_factor === 'number' && Number.isFinite(j.scaling_factor) && j.scaling_factor > 0) scaling = j.scaling_factor;
    else invalid.push(`${file} says scaling_factor ${String(JSON.stringify(j.scaling_factor)).slice(0, 40)}, which is not a positive number`);
  }
  return {
    in_channels: count('in_channels', VAE_BOUNDS.channels),
    out_channels: count('out_channels', VAE_BOUNDS.channels),
    block_out_channels: blocks,
    layers_per_block: count('layers_per_block', VAE_BOUNDS.layers_per_block),
    latent_channels: count('latent_channels', VAE_BOUNDS.channels),
    norm_num_groups: count('norm_num_groups', VAE_BOUNDS.channels),
    scaling_factor: scaling,
  };
}

/**
 * A VAE folder (config.json + weights, or a pipeline folder with vae/) or a weights file on disk,
 * or the weights (and config.json) a page was given.
 */
export function loadVaeCheckpoint(from: string | { readonly weights: FileRef; readonly config?: FileRef }): VaeCheckpoint {
  let weights: FileRef;
  let config: FileRef | undefined;
  if (typeof from === 'string') {
    if (!fs.existsSync(from)) throw new UsageError(`VAE ${from} does not exist: pass a VAE folder (config.json + diffusion_pytorch_model.safetensors) or a weights file`);
    let file = from;
    if (fs.statSync(from).isDirectory()) {
      const dir = fs.existsSync(path.join(from, 'vae')) ? path.join(from, 'vae') : from;
      file = pickWeightsFile(dir, VAE_WEIGHT_NAMES);
    }
    const besides = path.join(path.dirname(file), 'config.json');
    weights = file;
    config = fs.existsSync(besides) ? besides : undefined;
  } else {
    ({ weights, config } = from);
  }
  const file = refName(weights);
  const configFile = config === undefined ? 'config.json' : refName(config);
  const invalid: string[] = [];
  const stated = config !== undefined ? readConfig(config, invalid) : {};
  const sd = openStateDict(weights);
  try {
    const norm = normaliseVaeKeys(sd.tensors);
    const warnings = [...sd.warnings, ...norm.warnings];
    const t = norm.tensors;
    const shape = (k: string): readonly number[] | undefined => t.get(k)?.shape;
    const levels = new Set([...t.keys()].map((k) => /^decoder\.up_blocks\.(\d+)\./.exec(k)?.[1]).filter((x) => x !== undefined)).size;
    if (levels === 0 || !shape('decoder.conv_out.weight')) {
      throw new UsageError(`${file} holds no AutoencoderKL decoder (no decoder.up_blocks / decoder.conv_out); its keys start with: ${[...sd.tensors.keys()].slice(0, 4).join(', ')}`);
    }
    const reversed: number[] = [];
    for (let i = 0; i < levels; i++) reversed.push(shape(`decoder.up_blocks.${i}.resnets.0.conv1.weight`)?.[0] ?? 0);
    const resnets = new Set([...t.keys()].map((k) => /^decoder\.up_blocks\.0\.resnets\.(\d+)\./.exec(k)?.[1]).filter((x) => x !== undefined)).size;
    const inferred: VaeConfig = {
      in_channels: shape('encoder.conv_in.weight')?.[1] ?? stated.in_channels ?? 3,
      out_channels: shape('decoder.conv_out.weight')![0]!,
      block_out_channels: reversed.reverse(),
      layers_per_block: resnets - 1,
      latent_channels: shape('post_quant_conv.weight')?.[0] ?? shape('decoder.conv_in.weight')?.[1] ?? 4,
      norm_num_groups: stated.norm_num_groups ?? SD_VAE_CONFIG.norm_num_groups,
      scaling_factor: stated.scaling_factor ?? SD_VAE_CONFIG.scaling_factor,
    };
    if (stated.norm_num_groups === undefined) warnings.push(`no config.json beside ${file}: assumed norm_num_groups ${inferred.norm_num_groups} and scaling_factor ${inferred.scaling_factor} (the SD VAE's)`);
    const problems: string[] = [...invalid];
    for (const [field, value] of Object.entries(stated) as Array<[keyof VaeConfig, unknown]>) {
      if (value !== undefined && JSON.stringify(value) !== JSON.stringify(inferred[field])) {
        problems.push(`${configFile} says ${field} ${JSON.stringify(value)} but the weights have ${JSON.stringify(inferred[field])}`);
      }
    }
    const empty = inferred.block_out_channels.map((c, i) => [c, i] as const).filter(([c]) => c < 1);
    if (empty.length) problems.push(`decoder.up_blocks.{${empty.map(([, i]) => inferred.block_out_channels.length - 1 - i).join(',')}}.resnets.0.conv1.weight give no channels (missing or empty), so the decoder's levels cannot be read`);
    const badGroups = inferred.block_out_channels.filter((c) => c % inferred.norm_num_groups !== 0);
    if (badGroups.length) problems.push(`norm_num_groups ${inferred.norm_num_groups} does not divide channels ${badGroups.join(', ')}`);
    const expected = vaeDecoderParameterShapes(inferred);
    const decoderOnly = new Map([...t].filter(([k]) => k.startsWith('decoder.') || k === 'post_quant_conv.weight' || k === 'post_quant_conv.bias'));
    problems.push(...diffAgainst(expected, decoderOnly));
    if (problems.length > 0) throw new UsageError(`${file} is not a usable AutoencoderKL:\n  ${problems.join('\n  ')}`);
    const weights = finiteChecked(inExpectedOrder(expected, t), file);
    return {
      path: file,
      config: inferred,
      weights: { tensors: weights, close: sd.close },
      scalingFactor: inferred.scaling_factor,
      format: sd.format,
      layout: norm.layout,
      warnings,
    };
  } catch (err) {
    sd.close();
    throw err;
  }
}
