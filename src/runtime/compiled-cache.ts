/**
 * The compiled-model cache: an ONNX model (+ external data) built once per (checkpoint identity,
 * build options) and reused by later runs. The identity is the checkpoint's resolved path, size and
 * mtime, so replacing the file invalidates the entry. Entries are built in a temporary folder and
 * renamed into place, so a crash or a concurrent run never sees a half-written model.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Bumped whenever the graph a builder emits changes, so that old entries are not reused. */
export const GRAPH_FORMAT_VERSION = 1;

export interface CachedModel {
  readonly modelPath: string;
  readonly fromCache: boolean;
  /** Deletes the model files when they are temporary (no cache); a no-op for cache entries. */
  readonly cleanup: () => void;
}

/** What identifies a source file: resolved path, size, modification time. */
export function fileIdentity(file: string): { path: string; size: number; mtimeMs: number } {
  const real = realpathSync(file);
  const st = statSync(real);
  return { path: real, size: st.size, mtimeMs: Math.round(st.mtimeMs) };
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
export function cachedModel(
  cacheDir: string | undefined,
  prefix: string,
  keyParts: unknown,
  build: (modelPath: string) => void,
  isSuperseded?: (otherParts: unknown) => boolean,
): CachedModel {
  if (cacheDir === undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
    const modelPath = path.join(dir, 'model.onnx');
    try {
      build(modelPath);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return { modelPath, fromCache: false, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }
  const key = cacheKey(keyParts);
  const dir = path.join(cacheDir, `${prefix}-${key}`);
  const modelPath = path.join(dir, 'model.onnx');
  if (readMeta(dir)?.key === key && existsSync(modelPath)) return { modelPath, fromCache: true, cleanup: () => {} };

  mkdirSync(cacheDir, { recursive: true });
  const tmp = mkdtempSync(path.join(cacheDir, `.${prefix}-${key}-tmp-`));
  try {
    build(path.join(tmp, 'model.onnx'));
    writeFileSync(path.join(tmp, 'meta.json'), JSON.stringify({ key, parts: keyParts, created: new Date().toISOString() }, null, 1));
    if (existsSync(dir) && readMeta(dir)?.key !== key) rmSync(dir, { recursive: true, force: true }); // a broken entry
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
  }
  if (isSuperseded) removeSuperseded(cacheDir, prefix, key, isSuperseded);
  return { modelPath, fromCache: false, cleanup: () => {} };
}

function readMeta(dir: string): { key?: string; parts?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { key?: string; parts?: unknown };
  } catch {
    return undefined;
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
