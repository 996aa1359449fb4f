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

/** Largest config-like JSON file read (config.json, model_index.json, classifier.json). */
export const MAX_JSON_BYTES = 1 << 20;

/**
 * A small JSON object from a file a user pointed at: only a regular file (a FIFO would block and
 * /dev/zero never ends), at most MAX_JSON_BYTES, a UTF-8 byte-order mark allowed. Throws an Error
 * whose message says what is wrong; callers add what the file was meant to be.
 */
export function readJsonObject(file: string): Record<string, unknown> {
  const st = fs.statSync(file);
  if (!st.isFile()) throw new Error(`it is not a regular file (${st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a pipe' : 'a device or socket'})`);
  if (st.size > MAX_JSON_BYTES) throw new Error(`it is ${st.size} bytes; a JSON config is at most ${MAX_JSON_BYTES}`);
  const fd = fs.openSync(file, 'r');
  let text: string;
  try {
    const buf = Buffer.alloc(MAX_JSON_BYTES + 1);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    if (n > MAX_JSON_BYTES) throw new Error(`it holds more than ${MAX_JSON_BYTES} bytes`);
    text = buf.subarray(0, n).toString('utf8').replace(/^\uFEFF/, '');
  } finally {
    fs.closeSync(fd);
  }
  const value = JSON.parse(text) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`it holds ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, not a JSON object`);
  return value as Record<string, unknown>;
}
