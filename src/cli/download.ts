import type { Command } from 'commander';
import { DitError, UsageError } from '../errors.js';
import { DOWNLOADS, download } from '../download.js';
import { defaultCacheDir } from '../model-files.js';
import { createProgress } from './progress.js';
import { flag } from './flags.js';

export function register(program: Command): void {
  program
    .command('download')
    .description(`fetch official weights into the cache folder: ${Object.keys(DOWNLOADS).join(' | ')} (one failure does not stop the others)`)
    .argument('<names...>', 'what to fetch')
    .addOption(flag('cacheDir'))
    .option('--mirror <url>', 'fetch <url>/<path> instead of the official hosts')
    .addOption(flag('quiet'))
    .action(async (names: string[], opts: { cacheDir?: string; mirror?: string; quiet?: boolean }) => {
      // Every name is checked before anything is fetched: a typo fails at once, exit 2.
      const unknown = names.filter((n) => !(n in DOWNLOADS));
      if (unknown.length > 0) throw new UsageError(`unknown download "${unknown[0]}": must be one of ${Object.keys(DOWNLOADS).join(', ')}`);
      const cacheDir = opts.cacheDir ?? defaultCacheDir();
      const progress = createProgress({ quiet: opts.quiet ?? false });
      const failed: string[] = [];
      for (const name of names) {
        try {
          const paths = await download(name, {
            cacheDir,
            mirror: opts.mirror ?? process.env.DIT_DOWNLOAD_MIRROR,
            onProgress: (p) => progress.bytes(p.file, p.received, p.total),
          });
          progress.done();
          for (const p of paths) process.stdout.write(`${p}\n`);
        } catch (err) {
          progress.done();
          if (!(err instanceof DitError)) throw err;
          failed.push(name);
          process.stderr.write(`dit: ${name}: ${err.message}\n`);
        }
      }
      if (failed.length > 0) {
        throw new DitError(`${failed.length} of ${names.length} downloads failed: ${failed.join(', ')}`);
      }
    });
}
