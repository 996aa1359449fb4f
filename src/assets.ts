/** Files shipped with the package (class tables, the embedded default model). */
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// src/assets.ts and dist/assets.js both sit one level below the package root.
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function assetPath(...parts: string[]): string {
  return path.join(packageRoot, 'assets', ...parts);
}

/** The folder of the small Fashion-MNIST DiT that `dit sample` uses when no checkpoint is given. */
export const EMBEDDED_MODEL_DIR = assetPath('fashion-mnist');
