/** Small tmpfs mounts standing in for a full or read-only disk (root only; CI runs as root). */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const mounts: string[] = [];

/** A fresh tmpfs of `kb` KiB (read-only when asked), or undefined where mounting is not allowed. */
export function smallDisk(kb: number, readOnly = false): string | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k${readOnly ? ',ro' : ''}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    fs.rmdirSync(dir);
    return undefined;
  }
  mounts.push(dir);
  return dir;
}

export const canMount = process.getuid?.() === 0 && smallDisk(16) !== undefined;

export function unmountAll(): void {
  for (const m of mounts.splice(0)) {
    execFileSync('umount', [m]);
    fs.rmdirSync(m);
  }
}
