import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { FASHION_MNIST_CLASSES, imagenetClasses, type ClassTable } from '../classes.js';
import { searchClasses } from '../class-names.js';

const TABLES: Record<string, () => ClassTable> = {
  imagenet: imagenetClasses,
  'fashion-mnist': () => FASHION_MNIST_CLASSES,
};

export function register(program: Command): void {
  program
    .command('classes')
    .description('list class ids and names (ImageNet-1k for the official DiT, Fashion-MNIST for the embedded model)')
    .argument('[table]', `${Object.keys(TABLES).join(' | ')}`, 'imagenet')
    .option('--search <text>', 'only the class with this id and classes whose names contain this text (as the dit serve page searches)')
    .action((tableName: string, opts: { search?: string }) => {
      const get = TABLES[tableName];
      if (!get) throw new UsageError(`unknown class table "${tableName}": must be one of ${Object.keys(TABLES).join(', ')}`);
      const table = get();
      const lines = searchClasses(table, opts.search ?? '').map((id) => `${String(id).padStart(4)}  ${table[id]!.join(', ')}`);
      process.stdout.write(lines.length ? `${lines.join('\n')}\n` : `no class matches "${opts.search}"\n`);
    });
}
