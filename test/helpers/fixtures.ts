/**
 * The one place tests and benchmarks find the reference fixtures (test/fixtures, described in its
 * README). DIT_FIXTURES_DIR points every test at another set, e.g. one just rebuilt by
 * scripts/fixtures/generate.py, without touching the committed files.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../../src/atomic-write.js';
import type { DType } from '../../src/checkpoint/index.js';
import { currentAttentionName } from '../../src/checkpoint/vae.js';
import type { VaeConfig } from '../../src/models/vae-config.js';
import { writeSafetensors, type TensorToWrite } from './checkpoint-writers.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const committedFixturesDir = path.join(repoRoot, 'test', 'fixtures');
export const FIXTURES_ENV = 'DIT_FIXTURES_DIR';

/** The fixture sets, one folder each. */
export type FixtureSet = 'dit-tiny' | 'dit-mlp' | 'vae-tiny' | 'rng' | 'frechet' | 'inception' | 'legacy-torch' | 'bulk' | 'embedded-fd' | 'precision-recall' | 'sit-tiny' | 'repa-tiny';

function fixturesRoot(): { dir: string; fromEnv: boolean } {
  const env = process.env[FIXTURES_ENV];
  return env ? { dir: path.resolve(env), fromEnv: true } : { dir: committedFixturesDir, fromEnv: false };
}

/**
 * `root/set/file`, or an error that names the missing path and how to get it back. Exported with
 * the root as a parameter so the message itself can be tested.
 */
export function resolveFixture(root: string, fromEnv: boolean, set: FixtureSet, file?: string): string {
  const p = file === undefined ? path.join(root, set) : path.join(root, set, file);
  if (fs.existsSync(p)) return p;
  const what = file === undefined ? `fixture folder ${set}/` : `fixture file ${set}/${file}`;
  const remedy = fromEnv
    ? `${FIXTURES_ENV}=${root} names a set without it: regenerate into that folder with ` +
      `scripts/fixtures/generate.py --out ${root}, or unset ${FIXTURES_ENV} to use the committed set in test/fixtures`
    : 'the fixtures are tracked files of the repository: restore them with `git checkout -- test/fixtures`, ' +
      'or rebuild them with scripts/fixtures/generate.py (see test/fixtures/README.md)';
  throw new Error(`missing ${what} (looked for ${p}); ${remedy}`);
}

/** A fixture set's folder, checked to exist. */
export function fixtureDir(set: FixtureSet): string {
  const { dir, fromEnv } = fixturesRoot();
  return resolveFixture(dir, fromEnv, set);
}

/** One fixture file, checked to exist. */
export function fixture(set: FixtureSet, file: string): string {
  const { dir, fromEnv } = fixturesRoot();
  return resolveFixture(dir, fromEnv, set, file);
}

export const ditTiny = (file: string): string => fixture('dit-tiny', file);
export const vaeTiny = (file: string): string => fixture('vae-tiny', file);

/** The vae-tiny fixture's config.json, as the decoder builder takes it. */
export function vaeTinyConfig(): VaeConfig {
  const json = JSON.parse(fs.readFileSync(vaeTiny('config.json'), 'utf8'));
  return {
    in_channels: json.in_channels,
    out_channels: json.out_channels,
    block_out_channels: json.block_out_channels,
    layers_per_block: json.layers_per_block,
    latent_channels: json.latent_channels,
    norm_num_groups: json.norm_num_groups,
    scaling_factor: json.scaling_factor,
  };
}

/** A fresh folder for files a test writes. */
export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'dit-ckpt-test-'));
}

let renamedPath: string | undefined;

/**
 * vae-tiny's weights under the current attention names (`to_q`/`to_k`/`to_v`/`to_out.0`), the
 * file that used to be committed as `vae-tiny/renamed.safetensors`: generated from
 * `diffusion_pytorch_model.safetensors` on first use, byte for byte what the fixture generator
 * wrote (same tensors, bytes and key order), with the fixture's config.json beside it, as a file
 * path given to the loader or the CLI needs. It lives in
 * `$TMPDIR/dit-ts-fixtures/vae-tiny-renamed-<sha256 of both sources>/renamed.safetensors`, is
 * created only when missing, and each file is written to a temporary name and renamed into
 * place, so test processes running at once can all create it. Do not write to it.
 */
export function vaeTinyRenamed(): string {
  if (renamedPath !== undefined && fs.existsSync(renamedPath)) return renamedPath;
  const source = fs.readFileSync(vaeTiny('diffusion_pytorch_model.safetensors'));
  const config = fs.readFileSync(vaeTiny('config.json'));
  const hash = createHash('sha256').update(source).update(config).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), 'dit-ts-fixtures', `vae-tiny-renamed-${hash}`);
  const file = path.join(dir, 'renamed.safetensors');
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'config.json');
  if (!fs.existsSync(configFile)) writeFileAtomic(configFile, config);
  if (!fs.existsSync(file)) {
    const headerLen = Number(source.readBigUInt64LE(0));
    const dataStart = 8 + headerLen;
    const header = JSON.parse(source.subarray(8, dataStart).toString('utf-8')) as Record<string, unknown>;
    let metadata: Record<string, string> | undefined;
    const entries: TensorToWrite[] = [];
    for (const [name, value] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = value as Record<string, string>;
        continue;
      }
      const t = value as { dtype: DType; shape: number[]; data_offsets: [number, number] };
      entries.push({ name: currentAttentionName(name) ?? name, dtype: t.dtype, shape: t.shape, data: source.subarray(dataStart + t.data_offsets[0], dataStart + t.data_offsets[1]) });
    }
    writeSafetensors(file, entries, metadata);
  }
  renamedPath = file;
  return file;
}
