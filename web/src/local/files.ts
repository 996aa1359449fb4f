/**
 * The files a user gives the page (picked, dropped, or a folder) → the checkpoint's weights, its
 * config.json and a diffusers model_index.json, by the rule `dit` applies to folders on disk.
 */
import { chooseWeights, DIT_WEIGHT_NAMES, isWeightsName } from '../../../src/browser-pipeline.js';
import { ServerError } from '../client.js';

const pathOf = (f: File): string => f.webkitRelativePath || f.name;
const dirOf = (p: string): string => p.slice(0, p.lastIndexOf('/') + 1);
const baseOf = (p: string): string => p.slice(p.lastIndexOf('/') + 1);

export function pickModelFiles(files: readonly File[]): { weights: File; config?: File; modelIndex?: File } {
  // A diffusers pipeline folder keeps the DiT in transformer/.
  const inTransformer = files.filter((f) => /(^|\/)transformer\/[^/]+$/.test(pathOf(f)) && isWeightsName(f.name));
  const candidates = inTransformer.length > 0 ? inTransformer : files.filter((f) => isWeightsName(f.name));
  const chosen = chooseWeights(candidates.map(pathOf).map(baseOf), DIT_WEIGHT_NAMES, files.length === 1 ? files[0]!.name : 'the chosen files');
  if ('error' in chosen) throw new ServerError(400, { error: chosen.error });
  const weights = candidates.find((f) => baseOf(pathOf(f)) === chosen.name)!;
  const dir = dirOf(pathOf(weights));
  const parent = dirOf(dir.slice(0, -1));
  const named = (p: string) => files.find((f) => pathOf(f) === p);
  // Single files picked together have no folders: config.json and model_index.json beside them.
  return {
    weights,
    config: named(`${dir}config.json`),
    modelIndex: named(`${dir}model_index.json`) ?? (dir === '' ? undefined : named(`${parent}model_index.json`)),
  };
}
