/**
 * Shareable links: the URL query holds the settings (`?seed=3&classes=7,9&steps=50&cfg=4&
 * sampler=ddpm&n=8&run=1`). Opening one restores them, `run=1` also generates; every run writes
 * its settings back into the address bar. Values stay as typed, so a bad one reaches the resolver
 * and its message is shown next to its control.
 *
 * `classes=` takes ids (`7,9`, as `--class-labels`) or names (`sneaker,ankle boot`, as `--classes`,
 * resolved by options.ts resolveClasses): a list of integers is ids, anything else names.
 *
 * Four more keys say how the page computes, not what (COMPUTE_KEYS): read once when the page
 * starts, kept in every address a run writes, and validated by the same resolvers as the CLI's flags.
 */
import type { GenerateRequest } from './client.js';

/** URL key → request field. */
const KEYS = {
  seed: 'seed',
  classes: 'classLabels',
  steps: 'numSamplingSteps',
  cfg: 'cfgScale',
  sampler: 'sampler',
  n: 'numImages',
  guidance: 'guidance',
  interval: 'guidanceInterval',
  spacing: 'spacing',
  eta: 'eta',
  perRow: 'samplesPerRow',
} as const satisfies Record<string, keyof GenerateRequest>;

/**
 * The query keys that choose how the in-page pipeline computes: `backend` (auto, wasm or webgpu;
 * checked by the page's worker) and three that `dit` has as flags, checked by the same resolver.
 */
export const COMPUTE_KEYS = ['backend', 'threads', 'attention', 'dtype'] as const;

export type ComputeQuery = Partial<Record<(typeof COMPUTE_KEYS)[number], string>>;

/** The compute keys present in a query, as typed. */
export function readComputeQuery(search: string): ComputeQuery {
  const q = new URLSearchParams(search);
  const out: Record<string, string> = {};
  for (const key of COMPUTE_KEYS) {
    const v = q.get(key);
    if (v !== null) out[key] = v;
  }
  return out as ComputeQuery;
}

/**
 * A load-time message in the address's words: the resolver names `--threads`, `--attention`,
 * `--dtype` and `--device cpu|webgpu`; the page has `?threads`, … and `?backend wasm|webgpu`.
 */
export function inQueryWords(message: string): string {
  return message
    .replace(/--(threads|attention|dtype)\b/g, '?$1')
    .replace(/--device (cpu|webgpu)\b/g, (_, device: string) => `?backend ${device === 'cpu' ? 'wasm' : device}`)
    .replace(/\bon cpu\b/g, 'on wasm');
}

export interface SharedSettings {
  readonly request: GenerateRequest;
  readonly run: boolean;
  /** True when the query names any setting. */
  readonly any: boolean;
}

export function readShareQuery(search: string): SharedSettings {
  const q = new URLSearchParams(search);
  const request: Record<string, string> = {};
  for (const [key, field] of Object.entries(KEYS)) {
    const v = q.get(key);
    if (v !== null) request[field] = v;
  }
  const classes = request.classLabels;
  if (classes !== undefined && !/^\s*[+-]?\d+\s*(,\s*[+-]?\d+\s*)*$/.test(classes)) {
    delete request.classLabels;
    request.classes = classes;
  }
  return { request: request as GenerateRequest, run: q.get('run') === '1', any: Object.keys(request).length > 0 };
}

/** The query for a run's settings, keeping `compute` (how the page computes: readComputeQuery). */
export function shareQuery(r: GenerateRequest, compute: ComputeQuery = {}): string {
  const q = new URLSearchParams();
  for (const [key, field] of Object.entries(KEYS)) {
    const v = r[field];
    if (v === undefined || v === '') continue;
    q.set(key, Array.isArray(v) ? v.join(',') : String(v));
  }
  for (const [key, v] of Object.entries(compute)) if (v !== undefined) q.set(key, v);
  return `?${q.toString().replace(/%2C/g, ',')}`;
}
