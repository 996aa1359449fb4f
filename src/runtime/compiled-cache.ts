/**
 * The compiled-model cache: an ONNX model (+ external data) built once per (checkpoint identity,
 * build options) and reused by later runs. The identity is the checkpoint's resolved path, size, mtime,
 * inode and change time, so replacing or rewriting the file invalidates the entry (also a same-size
 * file whose mtime was carried over by `cp -p`, rsync or a restore: the inode's change time cannot be
 * set back). Entries are built in a temporary folder and
 * renamed into place, so a crash or a concurrent run never sees a half-written model.
 *
 * Every entry records the size and CRC-32 of its files when it is written and is checked against
 * them when it is opened (about 0.5 s per GB here): a truncated or damaged entry (a short write, a
 * flipped block) is rebuilt, never run. A checksum, not a signature: it detects damage, and whoever
 * can write the cache folder could rewrite the record too.
 * Temporary folders carry the builder's process id; one whose process is gone (a run killed during a
 * build) is deleted by the next run that uses the same folder. While a build runs its folder is
 * tracked (temporaries.ts): Ctrl-C or SIGTERM removes it before the process exits.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DitError } from '../errors.js';
import { makeFolder, writeFailure } from '../atomic-write.js';
import { trackTemporary } from './temporaries.js';

/** Bumped whenever the graph a builder emits changes, so that old entries are not reused. */
export const GRAPH_FORMAT_VERSION = 1;

export interface CachedModel {
  readonly modelPath: string;
  readonly fromCache: boolean;
  /** Deletes the model files when they are temporary (no cache); a no-op for cache entries. */
  readonly cleanup: () => void;
}

/**
 * What identifies a source file: resolved path, size, modification time, and the inode with its
 * change time (nanoseconds), which every write, rename into place or mtime reset moves; the
 * modification time alone can be carried over by a copy of another file of the same size.
 */
export function fileIdentity(file: string): { path: string; size: number; mtimeMs: number; inode: string; changed: string } {
  const real = realpathSync(file);
  const st = statSync(real, { bigint: true });
  return { path: real, size: Number(st.size), mtimeMs: Math.round(Number(st.mtimeMs)), inode: `${st.dev}:${st.ino}`, changed: st.ctimeNs.toString() };
}

export function cacheKey(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify({ v: GRAPH_FORMAT_VERSION, parts })).digest('hex').slice(0, 24);
}

/**
 * Returns `<cacheDir>/<prefix>-<key>/model.onnx`, calling `build(path)` to write it first when it is
 * not there; after a build, entries for which `isSuperseded(their key parts)` holds are deleted.
 * With `cacheDir` undefined the model is built in a temporary folder that `cleanup()` removes
 * (ONNX Runtime keeps what it needs once the session exists).
 */
export async function cachedModel(
  cacheDir: string | undefined,
  prefix: string,
  keyParts: unknown,
  build: (modelPath: string) => Promise<void> | void,
  isSuperseded?: (otherParts: unknown) => boolean,
): Promise<CachedModel> {
  if (cacheDir === undefined) {
    removeAbandoned(tmpdir(), NO_CACHE_PREFIX);
    const dir = mkdtempSync(path.join(tmpdir(), `${NO_CACHE_PREFIX}${prefix}-${process.pid}-`));
    const untrack = trackTemporary(dir);
    const remove = () => {
      rmSync(dir, { recursive: true, force: true });
      untrack();
    };
    const modelPath = path.join(dir, 'model.onnx');
    try {
      await build(modelPath);
    } catch (err) {
      remove();
      throw err;
    }
    return { modelPath, fromCache: false, cleanup: remove };
  }
  const key = cacheKey(keyParts);
  const dir = path.join(cacheDir, `${prefix}-${key}`);
  const modelPath = path.join(dir, 'model.onnx');
  if (existsSync(cacheDir)) removeAbandoned(cacheDir, '.');
  const meta = readMeta(dir);
  if (meta?.key === key && existsSync(modelPath)) {
    const damage = await checkEntry(dir, meta);
    if (damage === undefined) return { modelPath, fromCache: true, cleanup: () => {} };
    process.emitWarning(`the compiled model in ${dir} is damaged (${damage}); rebuilding it`, 'DitCacheWarning');
  }

  const cannotWrite = (err: unknown): DitError =>
    new DitError(`${(err instanceof DitError ? err : writeFailure(cacheDir, err)).message}; the compiled-model cache needs room there: free space, or pass --cache-dir DIR or --no-cache`);
  let tmp: string;
  try {
    makeFolder(cacheDir);
    tmp = mkdtempSync(path.join(cacheDir, `.${prefix}-${key}-tmp-${process.pid}-`));
  } catch (err) {
    throw cannotWrite(err);
  }
  const untrack = trackTemporary(tmp);
  try {
    try {
      await build(path.join(tmp, 'model.onnx'));
      const entry: EntryMeta = { key, parts: keyParts, created: new Date().toISOString(), files: await describeFiles(tmp) };
      writeFileSync(path.join(tmp, META), JSON.stringify(entry, null, 1));
    } catch (err) {
      throw (err as NodeJS.ErrnoException).code ? cannotWrite(err) : err;
    }
    // What stands there now is the entry judged unusable above, unless another process has since
    // written a new one with this key (then its rename wins and ours is dropped below).
    const now = readMeta(dir);
    const replacedMeanwhile = now?.key === key && now.created !== meta?.created;
    if (existsSync(dir) && !replacedMeanwhile) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another process finished the same entry first: use theirs.
      if (!['ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    untrack();
  }
  if (isSuperseded) removeSuperseded(cacheDir, prefix, key, isSuperseded);
  return { modelPath, fromCache: false, cleanup: () => {} };
}

const META = 'meta.json';
/** Temporary folders of --no-cache builds in the system's temp folder start with this. */
const NO_CACHE_PREFIX = 'dit-ts-';

interface EntryMeta {
  readonly key?: string;
  readonly parts?: unknown;
  readonly created?: string;
  /** Every file of the entry but meta.json: size in bytes and CRC-32, as written. */
  readonly files?: Readonly<Record<string, { readonly size: number; readonly crc32: number }>>;
}

function readMeta(dir: string): EntryMeta | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, META), 'utf8')) as EntryMeta;
  } catch {
    return undefined;
  }
}

/** The CRC-32 of a file, read 16 MiB at a time, yielding to the event loop (and a signal handler) between reads. */
async function crc32OfFile(file: string): Promise<number> {
  const buf = Buffer.allocUnsafe(16 << 20);
  const fd = openSync(file, 'r');
  let crc = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) {
      crc = crc32(buf.subarray(0, n), crc);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    closeSync(fd);
  }
  return crc;
}

async function describeFiles(dir: string): Promise<Record<string, { size: number; crc32: number }>> {
  const files: Record<string, { size: number; crc32: number }> = {};
  for (const name of readdirSync(dir).sort()) {
    if (name === META) continue;
    const file = path.join(dir, name);
    files[name] = { size: statSync(file).size, crc32: await crc32OfFile(file) };
  }
  return files;
}

/** What is wrong with an entry's files against its record, or undefined when they match. */
async function checkEntry(dir: string, meta: EntryMeta): Promise<string | undefined> {
  if (!meta.files || Object.values(meta.files).some((f) => typeof f?.size !== 'number' || typeof f?.crc32 !== 'number')) return 'no record of its files';
  const names = readdirSync(dir).filter((n) => n !== META).sort();
  const recorded = Object.keys(meta.files).sort();
  if (names.join('/') !== recorded.join('/')) return `files ${names.join(', ')} instead of ${recorded.join(', ')}`;
  for (const name of names) {
    const size = statSync(path.join(dir, name)).size;
    if (size !== meta.files[name]!.size) return `${name} has ${size} bytes, ${meta.files[name]!.size} were written`;
  }
  for (const name of names) {
    if ((await crc32OfFile(path.join(dir, name))) !== meta.files[name]!.crc32) return `${name} no longer has the content that was written`;
  }
  return undefined;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes temporary build folders under `dir` (names starting with `start`) whose builder process is gone. */
function removeAbandoned(dir: string, start: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(start)) continue;
    const pid = /-(\d+)-[A-Za-z0-9]{6}$/.exec(name)?.[1];
    const isBuildFolder = start === '.' ? name.includes('-tmp-') : true;
    if (!isBuildFolder || pid === undefined || processIsAlive(Number(pid))) continue;
    rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/** Deletes entries the new one replaces (e.g. built from an older version of the same file): they are GBs each. */
function removeSuperseded(cacheDir: string, prefix: string, key: string, isSuperseded: (otherParts: unknown) => boolean): void {
  for (const name of readdirSync(cacheDir)) {
    if (!name.startsWith(`${prefix}-`) || name === `${prefix}-${key}`) continue;
    const meta = readMeta(path.join(cacheDir, name));
    if (meta && isSuperseded(meta.parts)) rmSync(path.join(cacheDir, name), { recursive: true, force: true });
  }
}
