/**
 * Shareable links: the URL query holds the settings (`?seed=3&classes=7,9&steps=50&cfg=4&
 * sampler=ddpm&n=8&run=1`). Opening one restores them, `run=1` also generates; every run writes
 * its settings back into the address bar. Values stay as typed, so a bad one reaches the resolver
 * and its message is shown next to its control.
 *
 * `classes=` takes ids (`7,9`, as `--class-labels`) or names (`sneaker,ankle boot`, as `--classes`,
 * resolved by options.ts resolveClasses): a list of integers is ids, anything else names.
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

export function shareQuery(r: GenerateRequest): string {
  const q = new URLSearchParams();
  for (const [key, field] of Object.entries(KEYS)) {
    const v = r[field];
    if (v === undefined || v === '') continue;
    q.set(key, Array.isArray(v) ? v.join(',') : String(v));
  }
  return `?${q.toString().replace(/%2C/g, ',')}`;
}
