/**
 * The files a user gives the page (picked, dropped, or a folder) → the checkpoint's weights, its
 * config.json and a diffusers model_index.json, by the rule `dit` applies to folders on disk.
 */
import { chooseWeights, DIT_WEIGHT_NAMES, isWeightsName, VAE_WEIGHT_NAMES } from '../../../src/browser-pipeline.js';
import { ServerError } from '../client.js';

const pathOf = (f: File): string => f.webkitRelativePath || f.name;
const dirOf = (p: string): string => p.slice(0, p.lastIndexOf('/') + 1);
const baseOf = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

export interface PickedModel {
  readonly weights: File;
  readonly config?: File;
  readonly modelIndex?: File;
  /** A diffusers pipeline folder's vae/, when the folder has one. */
  readonly vae?: PickedVae;
}

export interface PickedVae {
  readonly weights: File;
  readonly config?: File;
}

/** The weights among `files` (those in `sub`/ first, as in a diffusers pipeline) and the config.json beside them. */
function pickIn(files: readonly File[], sub: string, preferred: readonly string[], what: string): { weights: File; config?: File; dir: string } {
  const inSub = files.filter((f) => new RegExp(`(^|/)${sub}/[^/]+$`).test(pathOf(f)) && isWeightsName(f.name));
  const candidates = inSub.length > 0 ? inSub : files.filter((f) => isWeightsName(f.name));
  const chosen = chooseWeights(candidates.map((f) => baseOf(pathOf(f))), preferred, files.length === 1 ? files[0]!.name : what);
  if ('error' in chosen) throw new ServerError(400, { error: chosen.error });
  const weights = candidates.find((f) => baseOf(pathOf(f)) === chosen.name)!;
  const dir = dirOf(pathOf(weights));
  return { weights, config: files.find((f) => pathOf(f) === `${dir}config.json`), dir };
}

/** A DiT checkpoint among the files: picked together, dropped, or a whole (diffusers) folder. */
export function pickModelFiles(files: readonly File[]): PickedModel {
  const { weights, config, dir } = pickIn(files, 'transformer', DIT_WEIGHT_NAMES, 'the chosen files');
  const named = (p: string) => files.find((f) => pathOf(f) === p);
  const parent = dirOf(dir.slice(0, -1));
  const hasVae = files.some((f) => /(^|\/)vae\/[^/]+$/.test(pathOf(f)) && isWeightsName(f.name));
  return {
    weights,
    config,
    // Single files picked together have no folders: model_index.json beside them.
    modelIndex: named(`${dir}model_index.json`) ?? (dir === '' ? undefined : named(`${parent}model_index.json`)),
    vae: hasVae ? pickVaeFiles(files) : undefined,
  };
}

/** A VAE among the files: its folder (config.json + weights), a pipeline folder with vae/, or the files. */
export function pickVaeFiles(files: readonly File[]): PickedVae {
  const { weights, config } = pickIn(files, 'vae', VAE_WEIGHT_NAMES, 'the chosen VAE files');
  return { weights, config };
}
