/** Output paths are checked before any work, so a long run never ends in an unwritable path. */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';

/**
 * Throws a UsageError unless `target` can be written: its folder exists and is writable, and it
 * is not itself a folder (or, with `directory`, it is a folder or can be created in one).
 */
export function checkWritable(target: string, opts: { directory?: boolean } = {}): void {
  const resolved = path.resolve(target);
  const exists = fs.existsSync(resolved);
  if (exists && fs.statSync(resolved).isDirectory() !== Boolean(opts.directory)) {
    throw new UsageError(
      opts.directory
        ? `cannot write images into ${target}: it is a file, not a folder; choose a folder path`
        : `cannot write ${target}: it is a folder; give a file path such as ${path.join(target, 'sample.png')}`,
    );
  }
  const folder = opts.directory && exists ? resolved : path.dirname(resolved);
  if (!fs.existsSync(folder)) {
    if (opts.directory && fs.existsSync(path.dirname(folder))) return checkWritable(path.dirname(folder), { directory: true });
    throw new UsageError(`cannot write ${target}: the folder ${path.dirname(resolved)} does not exist; create it or choose another path`);
  }
  if (!fs.statSync(folder).isDirectory()) {
    throw new UsageError(`cannot write ${target}: ${folder} is a file, not a folder; choose another path`);
  }
  try {
    fs.accessSync(folder, fs.constants.W_OK);
  } catch {
    throw new UsageError(`cannot write ${target}: the folder ${folder} is not writable; choose another path`);
  }
}
