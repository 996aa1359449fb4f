/** Where the shared fixtures live (read in place, never copied) and a temp-dir helper. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const fixtures = path.resolve(repoRoot, '../shared/fixtures');
export const ditTiny = (f: string): string => path.join(fixtures, 'dit-tiny', f);
export const vaeTiny = (f: string): string => path.join(fixtures, 'vae-tiny', f);

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dit-ckpt-test-'));
}
