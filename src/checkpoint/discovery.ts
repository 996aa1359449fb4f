/**
 * Which files a checkpoint path means: a weights file, a folder holding one, or a diffusers folder
 * (pipeline with transformer/ and model_index.json, or the transformer folder itself), with the
 * config.json beside the weights.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors.js';
import type { ByteSource } from './file.js';
import { chooseWeights, DIT_WEIGHT_NAMES } from './names.js';

/** The one weights file of a folder: the first `preferred` name present, else the only weights file. */
export function pickWeightsFile(dir: string, preferred: readonly string[] = DIT_WEIGHT_NAMES): string {
  const chosen = chooseWeights(fs.readdirSync(dir), preferred, `folder ${dir}`);
  if ('error' in chosen) throw new UsageError(chosen.error);
  return path.join(dir, chosen.name);
}

/** A file on disk (its path) or bytes from elsewhere (a file the browser page was given). */
export type FileRef = string | ByteSource;

/** What messages call a file: its path or its name. */
export function refName(f: FileRef): string {
  return typeof f === 'string' ? f : f.name;
}

export interface DiTFiles {
  readonly weights: FileRef;
  readonly config: FileRef | undefined; // DiT constructor arguments or a diffusers transformer config
  readonly modelIndex: FileRef | undefined; // a diffusers pipeline's model_index.json (class labels)
}

/** A folder (diffusers pipeline, transformer/ folder, or a folder with one weights file) or a file. */
export function resolveDiTFiles(pathOrDir: string, configOverride: string | undefined): DiTFiles {
  if (!fs.existsSync(pathOrDir)) throw new UsageError(`checkpoint ${pathOrDir} does not exist: pass a .pt/.pth/.bin/.safetensors file or a diffusers folder`);
  let weights = pathOrDir;
  if (fs.statSync(pathOrDir).isDirectory()) {
    const dir = fs.existsSync(path.join(pathOrDir, 'transformer')) ? path.join(pathOrDir, 'transformer') : pathOrDir;
    weights = pickWeightsFile(dir);
  }
  const dir = path.dirname(weights);
  const besides = path.join(dir, 'config.json');
  const modelIndex = [path.join(dir, 'model_index.json'), path.join(dir, '..', 'model_index.json')].find((p) => fs.existsSync(p));
  if (configOverride !== undefined && !fs.existsSync(configOverride)) throw new UsageError(`--config ${configOverride} does not exist`);
  return { weights, config: configOverride ?? (fs.existsSync(besides) ? besides : undefined), modelIndex };
}
