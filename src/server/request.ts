/**
 * A POST /api/generate body → the library's UserGenerateOptions. Only the JSON shape is checked
 * here (an object, known keys, scalar or list values); ranges, names and defaults are the
 * pipeline's resolver's job, so the page, the CLI and the library report the same message.
 */
import { UsageError } from '../errors.js';
import type { ResolvedGenerateOptions, UserGenerateOptions } from '../options.js';
import { GENERATE_FIELDS, type ApiError, type GenerateField, type ResolvedRequest } from './api.js';

/** A client mistake with its HTTP status: 400 bad value, 413 body too large, 415 not JSON, 503 queue full. */
export class RequestError extends Error {
  readonly status: number;
  readonly field: GenerateField | undefined;
  /** Extra response headers, e.g. Allow on a 405. */
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, message: string, field?: GenerateField, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'RequestError';
    this.status = status;
    this.field = field;
    this.headers = headers;
  }
  toJSON(): ApiError {
    return this.field === undefined ? { error: this.message } : { error: this.message, field: this.field };
  }
}

const LIST_FIELDS: ReadonlySet<GenerateField> = new Set(['classLabels', 'classes', 'guidanceInterval']);

function isScalar(v: unknown): v is string | number {
  return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

/** Checks the body's shape and returns it as library options; values stay as sent so messages quote them. */
export function parseGenerateBody(text: string): UserGenerateOptions {
  let body: unknown;
  try {
    body = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new RequestError(400, `the request body is not valid JSON (${(err as Error).message}); send an object such as {"seed": 0}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new RequestError(400, `the request body must be a JSON object of options, got ${Array.isArray(body) ? 'an array' : JSON.stringify(body)}`);
  }
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!isGenerateField(key)) throw new RequestError(400, `unknown option "${key}": allowed are ${GENERATE_FIELDS.join(', ')}`);
    const field = key;
    if (value === null || value === undefined) continue; // "not set": the model's default
    const ok = isScalar(value) || (LIST_FIELDS.has(field) && Array.isArray(value) && value.every(isScalar));
    if (!ok) {
      const allowed = LIST_FIELDS.has(field) ? 'a string, a number or a list of them' : 'a string or a number';
      throw new RequestError(400, `option "${key}" is ${JSON.stringify(value)}: must be ${allowed}`, field);
    }
    options[field] = value;
  }
  return options as UserGenerateOptions;
}

function isGenerateField(key: string): key is GenerateField {
  return (GENERATE_FIELDS as readonly string[]).includes(key);
}

/**
 * Which request key a resolver message concerns, so the page shows it next to that control:
 * messages lead with the bad value's flag, and a request key is its flag in camelCase
 * (--num-sampling-steps ↔ numSamplingSteps). Name-lookup messages quote the class name instead.
 */
export function fieldOfMessage(message: string): GenerateField | undefined {
  const flag = /--([a-z][a-z-]*)/.exec(message)?.[1];
  const key = flag?.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
  if (key !== undefined && isGenerateField(key)) return key;
  if (/^(unknown )?class name /.test(message)) return 'classes';
  return undefined;
}

/** Runs the pipeline's resolver; its UsageError becomes a 400 naming the field. */
export function resolveOrReject(resolve: (o: UserGenerateOptions) => ResolvedGenerateOptions, options: UserGenerateOptions): ResolvedGenerateOptions {
  try {
    return resolve(options);
  } catch (err) {
    if (err instanceof UsageError) throw new RequestError(400, err.message, fieldOfMessage(err.message));
    throw err;
  }
}

export function toResolvedRequest(o: ResolvedGenerateOptions): ResolvedRequest {
  return {
    labels: [...o.labels],
    cfgScale: o.cfgScale,
    numSamplingSteps: o.numSamplingSteps,
    sampler: o.sampler,
    guidance: o.guidance,
    guidanceInterval: o.guidanceInterval ? [o.guidanceInterval[0], o.guidanceInterval[1]] : null,
    spacing: o.spacing,
    eta: o.eta,
    seed: o.seed.toString(),
    samplesPerRow: o.samplesPerRow,
  };
}
