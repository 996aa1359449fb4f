import type { Command } from 'commander';
import { DOWNLOADS, download } from '../download.js';
import { defaultCacheDir } from '../model-files.js';
import { createProgress } from './progress.js';
import { flag } from './flags.js';

export function register(program: Command): void {
  program
    .command('download')
    .description(`fetch official weights into the cache folder: ${Object.keys(DOWNLOADS).join(' | ')}`)
    .argument('<names...>', 'what to fetch')
    .addOption(flag('cacheDir'))
    .option('--mirror <url>', 'fetch <url>/<path> instead of the official hosts')
    .addOption(flag('quiet'))
    .action(async (names: string[], opts: { cacheDir?: string; mirror?: string; quiet?: boolean }) => {
      const cacheDir = opts.cacheDir ?? defaultCacheDir();
      const progress = createProgress({ quiet: opts.quiet ?? false });
      for (const name of names) {
        const paths = await download(name, {
          cacheDir,
          mirror: opts.mirror ?? process.env.DIT_DOWNLOAD_MIRROR,
          onProgress: (p) => progress.bytes(p.file, p.received, p.total),
        });
        progress.done();
        for (const p of paths) process.stdout.write(`${p}\n`);
      }
    });
}
