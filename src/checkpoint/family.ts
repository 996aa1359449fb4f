/**
 * Which family a DiT-shaped checkpoint belongs to (models/dit-config.ts MODEL_FAMILIES). REPA's
 * weights say so themselves: its `projectors.*` MLPs (representation alignment, not needed to
 * sample). SiT's are DiT's network and cannot be told from DiT's by their tensors, so a SiT
 * checkpoint needs a config.json with `"family": "sit"`, SiT's train.py arguments (args.model
 * "SiT-…"), or --family sit.
 */
import { UsageError } from '../errors.js';
import { FAMILY_TITLE, MODEL_FAMILIES, type ModelFamily } from '../models/dit-config.js';

/** REPA's projector MLPs: `projectors.{i}.{0,2,4}.{weight,bias}`. */
export const REPA_PROJECTOR_PREFIX = 'projectors.';

export interface FamilyFinding {
  /** What the file itself says; undefined = DiT or SiT, the tensors cannot tell. */
  readonly family: ModelFamily | undefined;
  /** How it was found, e.g. "its projectors.* keys". */
  readonly source: string | undefined;
  /** A "family" in config.json that is none of MODEL_FAMILIES: a problem of the file. */
  readonly invalid?: string;
}

/**
 * The family stated by the files: REPA's keys, then config.json's "family" (`stated`, read with the
 * rest of the config), then train.py's args.model.
 */
export function detectFamily(
  keys: Iterable<string>,
  stated: unknown,
  configFile: string | undefined,
  trainArgs: Readonly<Record<string, unknown>> | undefined,
): FamilyFinding {
  if ([...keys].some((k) => k.startsWith(REPA_PROJECTOR_PREFIX))) return { family: 'repa', source: `its ${REPA_PROJECTOR_PREFIX}* keys` };
  if (stated !== undefined) {
    if (typeof stated !== 'string' || !(MODEL_FAMILIES as readonly string[]).includes(stated)) {
      return { family: undefined, source: undefined, invalid: `${configFile} says family ${JSON.stringify(stated)}, which is not one of ${MODEL_FAMILIES.join(', ')}` };
    }
    return { family: stated as ModelFamily, source: baseName(configFile ?? 'config.json') };
  }
  const argsModel = trainArgs?.model;
  if (typeof argsModel === 'string' && /^SiT-/i.test(argsModel)) return { family: 'sit', source: `the checkpoint's args.model ${argsModel}` };
  return { family: undefined, source: undefined };
}

/** The last part of a path or name (no node:path: the page loads checkpoints too). */
const baseName = (file: string): string => file.slice(Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1);

/** A file name that says SiT (SiT-XL-2-256.pt, my_sit_run.pt), for the one case we can warn about. */
function namedLikeSiT(file: string): boolean {
  return /(^|[^a-z])sit([^a-z]|$)/i.test(baseName(file));
}

/**
 * The family to run: --family (or --model's) when given, else what the file says, else DiT. Refuses
 * a REPA checkpoint asked to run as another family, and a file named like SiT's with no family
 * stated (it would run as DiT and give noise).
 */
export function chooseFamily(found: FamilyFinding, requested: ModelFamily | undefined, file: string): { family: ModelFamily; assumed: boolean } {
  if (found.family === 'repa' && requested !== undefined && requested !== 'repa') {
    throw new UsageError(`${file} is a REPA checkpoint (${found.source}), not ${FAMILY_TITLE[requested]}; pass --family repa (or --model REPA-SiT-…) or leave --family out`);
  }
  if (requested !== undefined) return { family: requested, assumed: false };
  if (found.family !== undefined) return { family: found.family, assumed: false };
  if (namedLikeSiT(file)) {
    throw new UsageError(`${file} looks like a SiT checkpoint (its name), and SiT's weights cannot be told from DiT's; pass --family sit (or --family dit to run it as DiT)`);
  }
  return { family: 'dit', assumed: true };
}
