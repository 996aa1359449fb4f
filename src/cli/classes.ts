import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { FASHION_MNIST_CLASSES, imagenetClasses, type ClassTable } from '../classes.js';

const TABLES: Record<string, () => ClassTable> = {
  imagenet: imagenetClasses,
  'fashion-mnist': () => FASHION_MNIST_CLASSES,
};

export function register(program: Command): void {
  program
    .command('classes')
    .description('list class ids and names (ImageNet-1k for the official DiT, Fashion-MNIST for the embedded model)')
    .argument('[table]', `${Object.keys(TABLES).join(' | ')}`, 'imagenet')
    .option('--search <text>', 'only classes whose names contain this text')
    .action((table: string, opts: { search?: string }) => {
      const get = TABLES[table];
      if (!get) throw new UsageError(`unknown class table "${table}": must be one of ${Object.keys(TABLES).join(', ')}`);
      const q = opts.search?.toLowerCase().replace(/[_\-\s]+/g, ' ');
      const lines: string[] = [];
      get().forEach((names, id) => {
        const text = names.join(', ');
        if (!q || text.toLowerCase().replace(/[_\-\s]+/g, ' ').includes(q)) lines.push(`${String(id).padStart(4)}  ${text}`);
      });
      process.stdout.write(lines.length ? `${lines.join('\n')}\n` : `no class matches "${opts.search}"\n`);
    });
}
