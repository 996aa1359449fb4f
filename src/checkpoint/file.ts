/**
 * Positional reads from a checkpoint file. Every read is bounds-checked against the file size, so a
 * corrupt length or offset gives a FormatError instead of a short read, a crash or a huge buffer.
 */
import * as fs from 'node:fs';
import { FormatError, UsageError } from '../errors.js';

export class CheckpointFile {
  readonly path: string;
  readonly size: number;
  private fd: number | undefined;

  constructor(path: string) {
    this.path = path;
    let stat: fs.Stats;
    try {
      stat = fs.statSync(path);
    } catch {
      throw new UsageError(`${path} does not exist or cannot be read: check the path`);
    }
    if (!stat.isFile()) throw new UsageError(`${path} is not a file (pass the weights file, or the folder to a loader that accepts folders)`);
    this.size = stat.size;
    this.fd = fs.openSync(path, 'r');
  }

  /** Reads `length` bytes at `offset` into `target` (or a new buffer). Throws if the range leaves the file. */
  read(offset: number, length: number, what: string, target?: Uint8Array): Uint8Array {
    if (this.fd === undefined) throw new FormatError(`checkpoint ${this.path} was already closed; reopen it to read ${what}`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new FormatError(
        `${this.path}: ${what} needs bytes ${offset}..${offset + length} but the file has ${this.size} bytes: the file is truncated or corrupt (download it again)`,
      );
    }
    const out = target ?? new Uint8Array(length);
    let done = 0;
    while (done < length) {
      // readSync may return fewer bytes than asked; loop until the range is complete.
      const n = fs.readSync(this.fd, out, done, Math.min(length - done, 1 << 30), offset + done);
      if (n <= 0) throw new FormatError(`${this.path}: unexpected end of file while reading ${what}`);
      done += n;
    }
    return out;
  }

  close(): void {
    if (this.fd !== undefined) {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** Opens `path` for `parse`; the file is closed when parsing throws, else the result owns it. */
export function parseFile<T>(path: string, parse: (file: CheckpointFile) => T): T {
  const file = new CheckpointFile(path);
  try {
    return parse(file);
  } catch (err) {
    file.close();
    throw err;
  }
}
