/** Compact listings of key names: `blocks.{0..27}.attn.qkv.weight` instead of 28 lines. */

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
export function groupKeys(keys: readonly string[], suffix: (key: string) => string = () => ''): string[] {
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
export function limitLines(lines: readonly string[], max = 12): string[] {
  return lines.length <= max ? [...lines] : [...lines.slice(0, max), `... and ${lines.length - max} more`];
}
