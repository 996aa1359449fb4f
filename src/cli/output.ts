/** Output paths are checked before any work, so a long run never ends in an unwritable path. */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';

/**
 * Throws a UsageError unless `target` can be written: its folder exists and is writable, and it
 * is not itself a folder (or, with `directory`, it is a folder or can be created in one).
 */
export function checkWritable(target: string, opts: { directory?: boolean; extension?: string; example?: string } = {}): void {
  const resolved = path.resolve(target);
  // The bytes written are the format the extension names (a PNG, an .npy): a file named otherwise
  // would hold the wrong format, so the name is refused rather than the bytes mislabelled.
  const isFolder = fs.existsSync(resolved) && fs.statSync(resolved).isDirectory();
  if (opts.extension && !isFolder && path.extname(target).toLowerCase() !== opts.extension) {
    const stem = target.slice(0, target.length - path.extname(target).length);
    throw new UsageError(`cannot write ${target}: the file is written as ${opts.extension.slice(1).toUpperCase()}, so its name must end in ${opts.extension}, e.g. ${stem}${opts.extension}`);
  }
  const exists = fs.existsSync(resolved);
  if (exists && fs.statSync(resolved).isDirectory() !== Boolean(opts.directory)) {
    throw new UsageError(
      opts.directory
        ? `cannot write images into ${target}: it is a file, not a folder; choose a folder path`
        : `cannot write ${target}: it is a folder; give a file path such as ${path.join(target, opts.example ?? 'sample.png')}`,
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
