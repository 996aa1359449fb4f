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
