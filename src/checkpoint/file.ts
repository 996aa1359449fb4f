/**
 * Positional reads from a checkpoint file (on disk, or any ByteSource). Every read is bounds-checked against the file size, so a
 * corrupt length or offset gives a FormatError instead of a short read, a crash or a huge buffer.
 */
import * as fs from 'node:fs';
import { FormatError, UsageError } from '../errors.js';

/**
 * Bytes of one file read at positions: a file on disk (Node), or a File/Blob in the browser (read
 * with FileReaderSync in a worker, one slice at a time, so a 2.7 GB checkpoint is never held whole).
 * `name` is what messages call it (a path, or the name the user picked).
 */
export interface ByteSource {
  readonly name: string;
  readonly size: number;
  /** Reads exactly `length` bytes at `offset` into `target` (at its start); the range is in bounds. */
  readInto(offset: number, length: number, target: Uint8Array): void;
  close(): void;
}

/** A file on disk, read with positioned reads on one descriptor. */
export function diskSource(path: string): ByteSource {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(path);
  } catch {
    throw new UsageError(`${path} does not exist or cannot be read: check the path`);
  }
  if (!stat.isFile()) throw new UsageError(`${path} is not a file (pass the weights file, or the folder to a loader that accepts folders)`);
  const fd = fs.openSync(path, 'r');
  return {
    name: path,
    size: stat.size,
    readInto(offset, length, target) {
      let done = 0;
      while (done < length) {
        // readSync may return fewer bytes than asked; loop until the range is complete.
        const n = fs.readSync(fd, target, done, Math.min(length - done, 1 << 30), offset + done);
        if (n <= 0) throw new FormatError(`${path}: unexpected end of file while reading bytes ${offset}..${offset + length}`);
        done += n;
      }
    },
    close: () => fs.closeSync(fd),
  };
}

export class CheckpointFile {
  readonly path: string;
  readonly size: number;
  private source: ByteSource | undefined;

  /** A path opens the file on disk; a ByteSource (a browser File) is read as it is. */
  constructor(from: string | ByteSource) {
    this.source = typeof from === 'string' ? diskSource(from) : from;
    this.path = this.source.name;
    this.size = this.source.size;
  }

  /** Reads `length` bytes at `offset` into `target` (or a new buffer). Throws if the range leaves the file. */
  read(offset: number, length: number, what: string, target?: Uint8Array): Uint8Array {
    if (this.source === undefined) throw new FormatError(`checkpoint ${this.path} was already closed; reopen it to read ${what}`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new FormatError(
        `${this.path}: ${what} needs bytes ${offset}..${offset + length} but the file has ${this.size} bytes: the file is truncated or corrupt (download it again)`,
      );
    }
    const out = target ?? new Uint8Array(length);
    this.source.readInto(offset, length, out);
    return out;
  }

  close(): void {
    if (this.source !== undefined) {
      this.source.close();
      this.source = undefined;
    }
  }
}

/** Opens `from` for `parse`; the file is closed when parsing throws, else the result owns it. */
export function parseFile<T>(from: string | ByteSource, parse: (file: CheckpointFile) => T): T {
  const file = new CheckpointFile(from);
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
export function readJsonObject(file: string | ByteSource): Record<string, unknown> {
  let text: string;
  if (typeof file !== 'string') {
    if (file.size > MAX_JSON_BYTES) throw new Error(`it is ${file.size} bytes; a JSON config is at most ${MAX_JSON_BYTES}`);
    const bytes = new Uint8Array(file.size);
    file.readInto(0, file.size, bytes);
    text = new TextDecoder().decode(bytes);
  } else {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error(`it is not a regular file (${st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a pipe' : 'a device or socket'})`);
    if (st.size > MAX_JSON_BYTES) throw new Error(`it is ${st.size} bytes; a JSON config is at most ${MAX_JSON_BYTES}`);
    const fd = fs.openSync(file, 'r');
    try {
      const buf = Buffer.alloc(MAX_JSON_BYTES + 1);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      if (n > MAX_JSON_BYTES) throw new Error(`it holds more than ${MAX_JSON_BYTES} bytes`);
      text = buf.subarray(0, n).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  }
  const value = JSON.parse(text.replace(/^\uFEFF/, '')) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`it holds ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}, not a JSON object`);
  return value as Record<string, unknown>;
}
