/**
 * DiT key names of every layout, renamed to the official ones (facebookresearch/DiT models.py): ddp and compile
 * prefixes, diffusers Transformer2DModel names, and the split attention projections of forks that
 * replaced timm's Attention (to_q/to_k/to_v, q/k/v, q_proj…, in_proj_weight, out_proj).
 */
import { concatDim0 } from './lazy.js';
import type { LazyTensor } from './types.js';

export type DiTLayout = 'official' | 'ddp' | 'train-checkpoint' | 'diffusers' | 'split-qkv';

export interface RenamedDiTKeys {
  readonly tensors: Map<string, LazyTensor>;
  readonly layout: DiTLayout;
  readonly problems: string[];
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

const STRIPPABLE_PREFIXES = ['module.', '_orig_mod.', 'model.', 'net.'];

/** `container` is the training checkpoint's entry the weights came from, if any (it names the layout). */
export function normaliseDiTKeys(source: ReadonlyMap<string, LazyTensor>, container: string | undefined): RenamedDiTKeys {
  const problems: string[] = [];
  const { entries, ddp } = stripSharedPrefixes([...source]);
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
    const qkv = joinQkv(name, p, problems);
    if (qkv) put(name, qkv, name);
  }
  const layout: DiTLayout = diffusers ? 'diffusers' : renamed > 0 ? 'split-qkv' : container !== undefined ? 'train-checkpoint' : ddp ? 'ddp' : 'official';
  return { tensors: out, layout, problems };
}

/** Strips every prefix that all keys share (repeatedly: `module._orig_mod.`); ddp when `module.` was one. */
function stripSharedPrefixes(entries: Array<[string, LazyTensor]>): { entries: Array<[string, LazyTensor]>; ddp: boolean } {
  let ddp = false;
  for (let changed = true; changed; ) {
    changed = false;
    for (const prefix of STRIPPABLE_PREFIXES) {
      if (entries.length > 0 && entries.every(([k]) => k.startsWith(prefix))) {
        entries = entries.map(([k, t]) => [k.slice(prefix.length), t]);
        if (prefix === 'module.') ddp = true;
        changed = true;
      }
    }
  }
  return { entries, ddp };
}

/** q, k and v stacked into the official packed qkv (rows q, then k, then v). */
function joinQkv(name: string, p: ReadonlyMap<string, LazyTensor>, problems: string[]): LazyTensor | undefined {
  const [q, k, v] = ['q', 'k', 'v'].map((x) => p.get(x));
  if (!q || !k || !v) {
    problems.push(`${name}: found ${[...p.keys()].join(', ')} but q, k and v are all needed to build it`);
    return undefined;
  }
  if (q.shape.join() !== k.shape.join() || q.shape.join() !== v.shape.join()) {
    problems.push(`${name}: q, k, v shapes differ ([${q.shape}], [${k.shape}], [${v.shape}])`);
    return undefined;
  }
  return concatDim0([q, k, v]);
}
