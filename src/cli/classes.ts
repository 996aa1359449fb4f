/**
 * `dit classes`: the class ids and names a model takes. Without an argument, the table of the model
 * `dit sample` would load with the same --model: the embedded Fashion-MNIST model's ten, or
 * ImageNet-1k for an official DiT variant.
 */
import type { Command } from 'commander';
import { DitError, UsageError } from '../errors.js';
import { CLASS_TABLES } from '../classes.js';
import { searchClasses } from '../class-names.js';
import { resolveLoadOptions } from '../options.js';
import { flag } from './flags.js';

const TABLE_NAMES = Object.keys(CLASS_TABLES);

export function register(program: Command): void {
  program
    .command('classes')
    .description('list class ids and names: Fashion-MNIST for the embedded model (the default), ImageNet-1k for the official DiT (--model or imagenet)')
    .argument('[table]', `${TABLE_NAMES.join(' | ')} (default: the table of the model dit sample loads: fashion-mnist, or imagenet with --model)`)
    .addOption(flag('model'))
    .option('--search <text>', 'only the class with this id and classes whose names contain this text (as the dit serve page searches)')
    .action((tableArg: string | undefined, opts: { search?: string; model?: string }) => {
      // Every named variant is an ImageNet-1k model; without one, dit sample loads the embedded model.
      const tableName = tableArg ?? (resolveLoadOptions({ model: opts.model }).model ? 'imagenet' : 'fashion-mnist');
      const entry = CLASS_TABLES[tableName];
      if (!entry) throw new UsageError(`unknown class table "${tableName}": must be one of ${TABLE_NAMES.join(', ')}`);
      const table = entry.table();
      const ids = searchClasses(table, opts.search ?? '');
      if (ids.length === 0) {
        const other = TABLE_NAMES.filter((t) => t !== tableName).map((t) => `\`dit classes ${t} --search ...\``);
        throw new DitError(
          `no ${entry.name} class matches "${opts.search}"; run \`dit classes ${tableName}\` for all ${table.length}${other.length ? `, or search another table: ${other.join(', ')}` : ''}`,
        );
      }
      process.stdout.write(`${ids.map((id) => `${String(id).padStart(4)}  ${table[id]!.join(', ')}`).join('\n')}\n`);
    });
}
