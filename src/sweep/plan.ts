/**
 * A sweep is a grid over at most two generate options (rows × columns), every cell sharing the
 * same seed and so the same initial noise: differences between cells come from the knob alone.
 * A flag given as a comma list is swept (`--cfg-scale 1,5,10`); interval lists use ';'
 * (`--guidance-interval "0,999;0,700"`), since the interval itself has a comma.
 */
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import type { UserGenerateOptions } from '../options.js';

/**
 * What a resumed sweep must share besides its flags: the model (its architecture, and its weights as
 * model-files.ts weightsIdentity names them) and how it is computed. The precision changes the
 * images (q8, fp16); the device and attention form change them only by rounding, but change every
 * cell's timing, which the report compares.
 */
export function sweepModelId(model: { readonly description: string; readonly dtype: string; readonly attention: string }, weights: string, device: string): string {
  return `${model.description}, weights ${weights}; --device ${device} --dtype ${model.dtype} --attention ${model.attention}`;
}

/** Options that may be swept, with their flag names. */
export const SWEEPABLE = {
  cfgScale: '--cfg-scale',
  numSamplingSteps: '--num-sampling-steps',
  sampler: '--sampler',
  guidance: '--guidance',
  guidanceInterval: '--guidance-interval',
  spacing: '--spacing',
  eta: '--eta',
  seed: '--seed',
  numImages: '--num-images',
} as const;
export type SweepKey = keyof typeof SWEEPABLE;

export interface SweepAxis {
  readonly key: SweepKey;
  readonly flag: string;
  readonly values: readonly string[];
}

export interface SweepCell {
  readonly row: number;
  readonly column: number;
  /** File-name stem: r0-c2. */
  readonly id: string;
  readonly options: UserGenerateOptions;
  /** The swept values of this cell, e.g. { "--cfg-scale": "5", "--num-sampling-steps": "250" }. */
  readonly values: Readonly<Record<string, string>>;
}

export interface SweepPlan {
  readonly rows: SweepAxis | undefined;
  readonly columns: SweepAxis | undefined;
  readonly base: UserGenerateOptions;
  readonly cells: readonly SweepCell[];
  /** The model and how it computes (sweepModelId), as planSweep was given it. */
  readonly modelId: string;
  /** Identifies the whole sweep (base options, axes, modelId): a resumed run must match it. */
  readonly fingerprint: string;
}

/** Raw flag strings of the generate options (what the CLI received). */
export type RawGenerateFlags = Partial<Record<keyof UserGenerateOptions, string>>;

function listOf(key: SweepKey, raw: string): string[] {
  const sep = key === 'guidanceInterval' ? ';' : ',';
  return raw
    .split(sep)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Splits raw flags into a base and up to two swept axes. The swept flag that comes first on the
 * command line (`order`: the argv) gives the rows, the second the columns.
 */
export function planSweep(flags: RawGenerateFlags, order: readonly string[], modelId: string): SweepPlan {
  const axes: SweepAxis[] = [];
  const base: Record<string, unknown> = { ...flags };
  const keys = (Object.keys(SWEEPABLE) as SweepKey[])
    .filter((k) => flags[k] !== undefined)
    .sort((a, b) => order.indexOf(SWEEPABLE[a]) - order.indexOf(SWEEPABLE[b]));
  for (const key of keys) {
    const values = listOf(key, flags[key]!);
    if (values.length === 0) throw new UsageError(`${SWEEPABLE[key]} is empty: give a value or a comma list of values`);
    if (values.length > 1) {
      if (new Set(values).size !== values.length) {
        throw new UsageError(`${SWEEPABLE[key]} ${flags[key]} repeats a value; give each value once`);
      }
      axes.push({ key, flag: SWEEPABLE[key], values });
      delete base[key];
    } else {
      base[key] = values[0];
    }
  }
  if (axes.length > 2) {
    throw new UsageError(
      `${axes.map((a) => a.flag).join(', ')} are all swept: at most two flags can be swept at once (rows and columns); give the others one value`,
    );
  }
  // One swept flag lays its values side by side (columns); two make rows × columns.
  const [rows, columns] = axes.length === 2 ? axes : [undefined, axes[0]];
  const rowValues = rows?.values ?? [undefined];
  const columnValues = columns?.values ?? [undefined];
  const cells: SweepCell[] = [];
  rowValues.forEach((rv, r) =>
    columnValues.forEach((cv, c) => {
      const options: Record<string, unknown> = { ...base };
      const values: Record<string, string> = {};
      if (rows && rv !== undefined) {
        options[rows.key] = rv;
        values[rows.flag] = rv;
      }
      if (columns && cv !== undefined) {
        options[columns.key] = cv;
        values[columns.flag] = cv;
      }
      cells.push({ row: r, column: c, id: `r${r}-c${c}`, options: options as UserGenerateOptions, values });
    }),
  );
  const fingerprint = createHash('sha256')
    .update(JSON.stringify({ modelId, base, rows, columns }))
    .digest('hex')
    .slice(0, 16);
  return { rows, columns, base: base as UserGenerateOptions, cells, modelId, fingerprint };
}
