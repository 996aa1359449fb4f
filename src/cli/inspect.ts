/**
 * `dit inspect PATH [--json]`: what a checkpoint is (format, layout, dtypes, parameter count,
 * inferred config, named variant) and what is wrong with it, without building anything.
 * Exits 1 when the file has problems, so scripts can check a download.
 */
import type { Command } from 'commander';
import { inspectDiTCheckpoint, loadVaeCheckpoint, type DiTInspection } from '../checkpoint/index.js';
import { DitError, FormatError } from '../errors.js';
import { FAMILY_TITLE } from '../models/dit-config.js';
import { resolveLoadOptions } from '../options.js';
import { addFlags, type LoadFlags } from './flags.js';

interface InspectFlags extends Pick<LoadFlags, 'model' | 'family' | 'imageSize' | 'numClasses' | 'config'> {
  json?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('inspect')
    .description('show what a checkpoint is (format, layout, dtypes, parameters, config, variant) and any problems; --model, --image-size and --num-classes are checked against the file')
    .argument('<path>', 'checkpoint file or folder (.pt, .pth, .bin, .safetensors, diffusers folder, VAE folder)');
  addFlags(cmd, ['json', 'model', 'family', 'imageSize', 'numClasses', 'config']);
  cmd.action((target: string, flags: InspectFlags) => {
    const { model, family, imageSize, numClasses, config } = resolveLoadOptions(flags);
    const info = inspectDiTCheckpoint(target, { model, family, imageSize, numClasses, config });
    try {
      info.warnings.push(...nonFiniteWarnings(info.weights.tensors));
    } finally {
      info.weights.close();
    }
    const notDiT = info.config === undefined && info.problems.some((p) => p.includes('not a DiT checkpoint'));
    if (notDiT && flags.model === undefined && tryVae(target, flags.json === true)) return;
    process.stdout.write(flags.json ? `${JSON.stringify(ditJson(info))}\n` : ditText(info));
    if (info.problems.length > 0) throw new DitError(`${info.path}: ${info.problems.length} problem${info.problems.length > 1 ? 's' : ''} (listed above)`);
  });
}

/**
 * Reads every weight once (the loader's NaN/Inf check runs as each is read) and turns what it finds
 * into warnings: inspect reports a damaged file instead of stopping at the first bad tensor. Other
 * read errors are left to the loader, which reports them when the weights are used.
 */
function nonFiniteWarnings(tensors: ReadonlyMap<string, { toFloat32(): Float32Array }>): string[] {
  const out: string[] = [];
  for (const t of tensors.values()) {
    try {
      t.toFloat32();
    } catch (err) {
      if (err instanceof FormatError && /NaN or infinite/.test(err.message)) out.push(err.message);
      else if (!(err instanceof DitError)) throw err;
    }
  }
  return out;
}

function ditJson(i: DiTInspection): Record<string, unknown> {
  return {
    kind: 'dit',
    path: i.path,
    format: i.format,
    layout: i.layout,
    container: i.container ?? null,
    dtypes: i.dtypes,
    parameterCount: i.parameterCount,
    variant: i.variant ?? null,
    family: i.familyFound.family ?? null,
    familySource: i.familyFound.source ?? null,
    imageSize: i.imageSize ?? null,
    config: i.config ?? null,
    description: i.description,
    classLabels: i.classLabels?.length ?? 0,
    warnings: i.warnings,
    problems: i.problems,
  };
}

function ditText(i: DiTInspection): string {
  const rows: Array<[string, string]> = [
    ['file', i.path],
    ['format', i.format + (i.container ? ` (training checkpoint, "${i.container}" weights)` : '')],
    ['layout', i.layout],
    ['dtypes', i.dtypes.join(', ')],
    ['parameters', i.parameterCount.toLocaleString('en-US')],
    ['model', i.description],
    ['family', familyText(i)],
  ];
  if (i.config) rows.push(['config', Object.entries(i.config).map(([k, v]) => `${k} ${String(v)}`).join(', ')]);
  if (i.classLabels) rows.push(['class labels', `${i.classLabels.length} (model_index.json id2label)`]);
  for (const w of i.warnings) rows.push(['warning', w]);
  rows.push(['problems', i.problems.length === 0 ? 'none' : i.problems.join('\n')]);
  return rows.map(([k, v]) => `${`${k}:`.padEnd(14)}${printable(v).replace(/\n/g, `\n${' '.repeat(14)}`)}\n`).join('');
}

/** The family and how it is known; SiT's weights are DiT's, so without a statement it is ambiguous. */
function familyText(i: DiTInspection): string {
  const f = i.familyFound;
  if (f.family !== undefined) return `${FAMILY_TITLE[f.family]} (from ${f.source})`;
  return 'ambiguous: DiT or SiT (the same network; the weights cannot tell); runs as DiT unless --family sit or a config.json with "family": "sit" says otherwise';
}

/**
 * `s` with control characters written as escapes: tensor names and paths come from the file, and
 * an escape sequence in one could clear the terminal or fake lines of this report. Newlines stay
 * (they separate problems) and are indented under the label, so they cannot fake a label.
 */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** A file that is no DiT may be a VAE; say so instead of listing DiT problems. */
function tryVae(target: string, json: boolean): boolean {
  let vae;
  try {
    vae = loadVaeCheckpoint(target);
  } catch {
    return false;
  }
  let parameterCount = 0;
  for (const t of vae.weights.tensors.values()) parameterCount += t.shape.reduce((a, b) => a * b, 1);
  const dtypes = [...new Set([...vae.weights.tensors.values()].map((t) => t.dtype))];
  let nonFinite: string[];
  try {
    nonFinite = nonFiniteWarnings(vae.weights.tensors);
  } finally {
    vae.weights.close();
  }
  const info = { kind: 'vae', path: vae.path, format: vae.format, layout: vae.layout, dtypes, parameterCount, config: vae.config, warnings: [...vae.warnings, ...nonFinite], problems: [] as string[] };
  if (json) {
    process.stdout.write(`${JSON.stringify(info)}\n`);
  } else {
    const rows: Array<[string, string]> = [
      ['file', vae.path],
      ['format', vae.format],
      ['layout', `${vae.layout} (AutoencoderKL)`],
      ['dtypes', dtypes.join(', ')],
      ['parameters', parameterCount.toLocaleString('en-US')],
      ['config', Object.entries(vae.config).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ')],
      ...info.warnings.map((w): [string, string] => ['warning', w]),
      ['problems', 'none'],
    ];
    process.stdout.write(rows.map(([k, v]) => `${`${k}:`.padEnd(14)}${printable(v).replace(/\n/g, `\n${' '.repeat(14)}`)}\n`).join(''));
  }
  return true;
}
