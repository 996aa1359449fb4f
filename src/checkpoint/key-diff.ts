/**
 * A state dict's keys against the keys and shapes a model needs, for any model (DiT, VAE): what is
 * missing, unexpected or mis-shaped, listed compactly (`blocks.{0..27}.attn.qkv.weight`, not 28 lines).
 */
import type { LazyTensor } from './types.js';

function ranges(indices: number[]): string {
  const s = [...new Set(indices)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(j - i >= 2 ? `${s[i]}..${s[j]}` : s.slice(i, j + 1).join(','));
    i = j + 1;
  }
  return parts.join(',');
}

/** Groups keys that differ only in their first numeric segment; `suffix(key)` is appended per group. */
function groupKeys(keys: readonly string[], suffix: (key: string) => string = () => ''): string[] {
  const groups = new Map<string, { indices: number[]; first: string }>();
  for (const key of keys) {
    const m = /^(.*?\.)(\d+)(\..*)?$/.exec(key);
    const pattern = m ? `${m[1]}{}${m[3] ?? ''}` : key;
    const id = `${pattern}\u0000${suffix(key)}`;
    const g = groups.get(id) ?? { indices: [], first: key };
    if (m) g.indices.push(Number(m[2]));
    groups.set(id, g);
  }
  return [...groups].map(([id, g]) => {
    const [pattern, extra] = id.split('\u0000') as [string, string];
    const name = g.indices.length <= 1 ? g.first : pattern.replace('{}', `{${ranges(g.indices)}}`);
    return name + extra;
  });
}

/** At most `max` lines, then "... and N more". */
function limitLines(lines: readonly string[], max = 12): string[] {
  return lines.length <= max ? [...lines] : [...lines.slice(0, max), `... and ${lines.length - max} more`];
}

/** Grouped differences between the keys/shapes a config needs and what the file has. */
export function diffAgainst(expected: ReadonlyMap<string, readonly number[]>, actual: ReadonlyMap<string, LazyTensor>): string[] {
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

/** The tensors in the model's parameter order (as its state_dict lists them), then any others. */
export function inExpectedOrder(expected: ReadonlyMap<string, unknown>, tensors: ReadonlyMap<string, LazyTensor>): Map<string, LazyTensor> {
  const out = new Map<string, LazyTensor>();
  for (const k of expected.keys()) {
    const t = tensors.get(k);
    if (t) out.set(k, t);
  }
  for (const [k, t] of tensors) if (!out.has(k)) out.set(k, t);
  return out;
}
