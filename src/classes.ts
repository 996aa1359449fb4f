/**
 * Class names: the ImageNet-1k table (index 207 = "golden retriever"), the Fashion-MNIST ten, or a
 * checkpoint's own id2label. Each class is a list of synonyms, the first being its display name.
 * Names match by class-names.ts's rule ("golden_retriever" is "Golden Retriever", class 207).
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';
import { assetPath } from './assets.js';
import { namesContain, normaliseClassName, type ClassTable } from './class-names.js';

export type { ClassTable } from './class-names.js';

let imagenet: ClassTable | undefined;

/** The 1000 ImageNet-1k classes, synonyms per class. */
export function imagenetClasses(): ClassTable {
  imagenet ??= JSON.parse(readFileSync(assetPath('imagenet-classes.json'), 'utf8')) as string[][];
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

/**
 * Resolves class names to ids. A name must match one synonym of exactly one class; a name shared
 * by several classes ("crane": the bird 134 and the machine 517) lists the candidates; an unknown
 * name suggests classes whose names contain it.
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
    const partial: number[] = [];
    table.forEach((syns, id) => {
      if (namesContain(syns, q)) partial.push(id);
    });
    const hint =
      partial.length > 0
        ? `; did you mean ${partial
            .slice(0, 8)
            .map((id) => `"${table[id]![0]}" (${id})`)
            .join(', ')}${partial.length > 8 ? `, … (${partial.length} in all)` : ''}?`
        : `; run \`dit classes\` to list the ${table.length} ${tableName} classes`;
    throw new UsageError(`unknown class name "${raw}" for ${tableName}${hint}`);
  });
}
