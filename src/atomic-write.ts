/**
 * Writing outputs so that nothing is half-written or lost: each file goes to a temporary name in
 * its own folder and is renamed into place once complete. A failure removes what was written and
 * becomes one line that names the user's path (never the temporary one) and the reason.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DitError } from './errors.js';

const REASONS: Readonly<Record<string, string>> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOENT: 'its folder does not exist',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'it is a folder',
  EFBIG: 'the file is larger than this system allows',
};

/** A file-system error while writing `file` as one line for the user. */
export function writeFailure(file: string, err: unknown): DitError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const reason = REASONS[code] ?? (err as Error).message;
  return new DitError(`cannot write ${file}: ${reason}${code ? ` (${code})` : ''}`);
}

/**
 * Creates a folder (and its parents) for outputs. Node reports a recursive mkdir on a read-only or
 * unwritable disk as ENOENT, so the nearest existing parent is asked why it cannot be written.
 */
export function makeFolder(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    let parent = path.resolve(dir);
    while (!fs.existsSync(parent) && path.dirname(parent) !== parent) parent = path.dirname(parent);
    try {
      fs.accessSync(parent, fs.constants.W_OK);
    } catch (why) {
      throw writeFailure(dir, why);
    }
    throw writeFailure(dir, err);
  }
}

function tempNameFor(file: string): string {
  return path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
}

/** Writes all of `data` at the current position of `fd`. */
export function writeAll(fd: number, data: Uint8Array): void {
  for (let done = 0; done < data.length; ) done += fs.writeSync(fd, data, done, data.length - done);
}

function writeTemp(temp: string, content: Uint8Array | ((fd: number) => void)): void {
  const fd = fs.openSync(temp, 'w');
  try {
    if (typeof content === 'function') content(fd);
    else writeAll(fd, content);
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes `file` through a temporary name + rename; `content` is bytes or a writer of the open file. */
export function writeFileAtomic(file: string, content: Uint8Array | ((fd: number) => void)): void {
  writeFilesAtomic([[file, content]]);
}

/**
 * Writes several files, all or none: every temporary file is written before the first rename, and
 * a failure removes them all, so a full disk never leaves 2 of 8 images behind.
 */
export function writeFilesAtomic(files: ReadonlyArray<readonly [string, Uint8Array | ((fd: number) => void)]>): void {
  const temps: string[] = [];
  try {
    for (const [file, content] of files) {
      const temp = tempNameFor(file);
      temps.push(temp);
      try {
        writeTemp(temp, content);
      } catch (err) {
        throw (err as NodeJS.ErrnoException).code ? writeFailure(file, err) : err;
      }
    }
    files.forEach(([file], i) => {
      try {
        fs.renameSync(temps[i]!, file);
      } catch (err) {
        throw writeFailure(file, err);
      }
    });
  } catch (err) {
    for (const temp of temps) fs.rmSync(temp, { force: true });
    throw err;
  }
}
