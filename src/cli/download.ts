import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { DitError, UsageError } from '../errors.js';
import { DOWNLOADS, download } from '../download.js';
import { defaultCacheDir } from '../model-files.js';
import { createProgress } from './progress.js';
import { flag } from './flags.js';

/** The folders a download of `name` would create under `cacheDir` (deepest first) that do not exist yet. */
function missingFolders(cacheDir: string, name: string): string[] {
  const folders = new Set<string>();
  for (const f of DOWNLOADS[name]!) {
    for (let dir = path.dirname(path.join(cacheDir, f.target)); dir.length > cacheDir.length; dir = path.dirname(dir)) folders.add(dir);
  }
  folders.add(cacheDir);
  return [...folders].filter((d) => !fs.existsSync(d)).sort((a, b) => b.length - a.length);
}

/** Removes the folders a failed download created and left empty. */
function removeIfEmpty(folders: readonly string[]): void {
  for (const dir of folders) {
    if (fs.existsSync(dir) && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  }
}

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
        const created = missingFolders(path.resolve(cacheDir), name);
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
          removeIfEmpty(created);
          failed.push(name);
          process.stderr.write(`dit: ${name}: ${err.message}\n`);
        }
      }
      if (failed.length > 0) {
        throw new DitError(`${failed.length} of ${names.length} downloads failed: ${failed.join(', ')}`);
      }
    });
}
