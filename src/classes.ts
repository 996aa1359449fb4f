/**
 * Class names: the ImageNet-1k table (index 207 = "golden retriever"), the Fashion-MNIST ten, or a
 * checkpoint's own id2label. Each class is a list of synonyms, the first being its display name.
 * Names match by class-names.ts's rule ("golden_retriever" is "Golden Retriever", class 207).
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';
import { normaliseClassName, suggestClasses, type ClassTable } from './class-names.js';

export type { ClassTable } from './class-names.js';

let imagenet: ClassTable | undefined;

/** The 1000 ImageNet-1k classes, synonyms per class. */
export function imagenetClasses(): ClassTable {
  // src/classes.ts and dist/classes.js both sit one level below the package's assets/ (no path work at import time: the page bundles this file).
  imagenet ??= JSON.parse(readFileSync(new URL('../assets/imagenet-classes.json', import.meta.url), 'utf8')) as string[][];
  return imagenet;
}

export const FASHION_MNIST_CLASSES: ClassTable = [
  ['T-shirt/top', 'T-shirt', 'top', 'tshirt'],
  ['Trouser', 'trousers', 'pants'],
  ['Pullover', 'sweater', 'jumper'],
  ['Dress'],
  ['Coat'],
  ['Sandal'],
  ['Shirt'],
  ['Sneaker', 'trainer'],
  ['Bag', 'handbag'],
  ['Ankle boot', 'boot'],
];

/** The tables `dit classes` lists, by the argument that names each, with the name messages use. */
export const CLASS_TABLES: Readonly<Record<string, { readonly name: string; readonly table: () => ClassTable }>> = Object.freeze({
  'fashion-mnist': { name: 'Fashion-MNIST', table: () => FASHION_MNIST_CLASSES },
  imagenet: { name: 'ImageNet-1k', table: imagenetClasses },
});

/** The `dit classes` argument that lists a table, by the table's name. */
const CLASS_TABLE_ARGUMENTS: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(CLASS_TABLES).map(([arg, t]) => [t.name, arg]));

/**
 * Resolves class names to ids. A name must match one synonym of exactly one class; a name shared
 * by several classes ("crane": the bird 134 and the machine 517) lists the candidates; an unknown
 * name suggests the nearest names (class-names.ts suggestClasses), else where the table is listed.
 */
export function resolveClassNames(names: readonly string[], table: ClassTable | undefined, tableName: string): number[] {
  if (!table) {
    throw new UsageError(
      `--classes needs class names, but this model has none (${tableName}); pass ids with --class-labels instead`,
    );
  }
  return names.map((raw) => {
    const q = normaliseClassName(raw);
    const exact: number[] = [];
    table.forEach((syns, id) => {
      if (syns.some((s) => normaliseClassName(s) === q)) exact.push(id);
    });
    if (exact.length === 1) return exact[0]!;
    if (exact.length > 1) {
      const list = exact.map((id) => `${id} (${table[id]!.join(', ')})`).join('; ');
      throw new UsageError(`class name "${raw}" is ambiguous: it matches ${list}; pass the id with --class-labels`);
    }
    const suggested = suggestClasses(table, raw);
    const listed = CLASS_TABLE_ARGUMENTS[tableName];
    const hint =
      suggested.length > 0
        ? `; did you mean ${suggested.map((id) => `"${table[id]![0]}" (${id})`).join(', ')}?`
        : listed
          ? `; run \`dit classes ${listed}\` to list the ${table.length} ${tableName} classes`
          : `; the model's ${table.length} class names come from ${tableName}`;
    throw new UsageError(`unknown class name "${raw}" for ${tableName}${hint}`);
  });
}
