/**
 * Class names as people type them: case-insensitive, with '_', '-' and runs of spaces alike, so
 * the notebook's "golden_retriever" and "Golden Retriever" are the same name. Pure (no node:
 * imports) because the `dit serve` page bundles it too: the CLI, the server and the page match
 * names by this one rule.
 */

/** Per class id, its synonyms; the first is the display name. */
export type ClassTable = readonly (readonly string[])[];

/** The display name of class `id`, or `class <id>` when the table has none. */
export function className(table: ClassTable | undefined, id: number): string {
  return table?.[id]?.[0] ?? `class ${id}`;
}

export function normaliseClassName(name: string): string {
  return name.toLowerCase().replace(/[_\-\s]+/g, ' ').trim();
}

/** Whether one of `names` contains `needle`, which must already be normalised. */
export function namesContain(names: readonly string[], needle: string): boolean {
  return names.some((name) => normaliseClassName(name).includes(needle));
}

/**
 * The ids a search box or `dit classes --search` shows for `query`: the class whose id it is
 * first, then every class with a name containing it, in id order. An empty query lists them all.
 */
export function searchClasses(table: ClassTable, query: string): number[] {
  const needle = normaliseClassName(query);
  const ids = table.map((_, id) => id);
  if (needle === '') return ids;
  const byId = ids.filter((id) => String(id) === needle);
  const byName = ids.filter((id) => String(id) !== needle && namesContain(table[id]!, needle));
  return [...byId, ...byName];
}

/** Levenshtein distance: inserts, deletes and substitutions, each costing one. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** English plural endings a class name may have been typed with ("sneakers", "dresses", "ponies"). */
function singulars(name: string): string[] {
  const out = [name];
  if (name.endsWith('ies')) out.push(`${name.slice(0, -3)}y`);
  if (name.endsWith('es')) out.push(name.slice(0, -2));
  if (name.endsWith('s')) out.push(name.slice(0, -1));
  return out;
}

/**
 * The classes a mistyped name most likely meant, best first: a singular of it is a name
 * ("sneakers" → Sneaker), a name contains it, or a name is a few edits away ("golden retriver":
 * one edit; up to one edit per three letters, so short words do not match everything). Only the
 * nearest tier is said: a singular that is a name alone, else names within one edit of the best.
 */
export function suggestClasses(table: ClassTable, query: string, max = 8): number[] {
  const q = normaliseClassName(query);
  if (q === '') return [];
  const forms = singulars(q);
  const limit = Math.max(1, Math.floor(q.length / 3));
  const scored: Array<{ id: number; score: number }> = [];
  table.forEach((syns, id) => {
    let best = Infinity;
    for (const syn of syns.map(normaliseClassName)) {
      if (forms.includes(syn)) best = Math.min(best, 0);
      else if (syn.includes(q)) best = Math.min(best, 0.5);
      else {
        const d = Math.min(...forms.map((f) => editDistance(f, syn)));
        if (d <= limit) best = Math.min(best, d);
      }
    }
    if (best < Infinity) scored.push({ id, score: best });
  });
  const best = Math.min(...scored.map((s) => s.score));
  const worst = best === 0 ? 0 : best + 1;
  return scored
    .filter((s) => s.score <= worst)
    .sort((a, b) => a.score - b.score || a.id - b.id)
    .slice(0, max)
    .map((s) => s.id);
}
