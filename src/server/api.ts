/**
 * The `dit serve` wire format, shared by the server and the page (web/ imports these types only).
 *
 *   GET    /api/info                  ServerInfo
 *   GET    /api/classes?q=text        ClassEntry[] (names, synonyms or the exact id)
 *   POST   /api/generate              body GenerateRequest → 200 text/event-stream of JobEvent,
 *                                     or 400/413/415/503 ApiError before anything runs
 *   GET    /api/jobs/:id              JobStatus
 *   GET    /api/jobs/:id/result.png   the final grid (kept for the last few jobs)
 *   DELETE /api/jobs/:id              cancel (also POST /api/jobs/:id/cancel)
 *
 * The progress stream is the response of the POST itself, so a job lives exactly as long as the
 * client that asked for it: closing the connection cancels the job, queued or running.
 */

/** The body of POST /api/generate: the library's UserGenerateOptions as JSON (seed may be a string for values past 2^53). */
export interface GenerateRequest {
  classLabels?: number[] | string;
  classes?: string[] | string;
  numImages?: number | string;
  cfgScale?: number | string;
  numSamplingSteps?: number | string;
  sampler?: string;
  guidance?: string;
  guidanceInterval?: [number, number] | string;
  spacing?: string;
  eta?: number | string;
  seed?: number | string;
  samplesPerRow?: number | string;
}

export type GenerateField = keyof GenerateRequest;

export const GENERATE_FIELDS: readonly GenerateField[] = [
  'classLabels',
  'classes',
  'numImages',
  'cfgScale',
  'numSamplingSteps',
  'sampler',
  'guidance',
  'guidanceInterval',
  'spacing',
  'eta',
  'seed',
  'samplesPerRow',
];

/** Every 4xx/5xx body. `field` names the request key the message is about, when there is one. */
export interface ApiError {
  error: string;
  field?: GenerateField;
}

/** Resolved options as JSON (the seed as a decimal string: it is a 64-bit integer). */
export interface ResolvedRequest {
  labels: number[];
  cfgScale: number;
  numSamplingSteps: number;
  sampler: string;
  guidance: string;
  guidanceInterval: [number, number] | null;
  spacing: string;
  eta: number;
  seed: string;
  samplesPerRow: number;
}

export interface ServerInfo {
  /** What the page says first, e.g. "Fashion-MNIST DiT (embedded, 4.2 M parameters)" or "DiT-XL/2 256×256 (675 M parameters)". */
  title: string;
  /** The DiT's weights, pos_embed included (the official train.py's count). */
  parameterCount: number;
  /** The checkpoint's technical description (layout, config), for those who want it. */
  model: string;
  embedded: boolean;
  imageSize: number;
  numClasses: number;
  /**
   * Where the class names come from (e.g. "Fashion-MNIST", "ImageNet-1k", "the checkpoint's
   * id2label") and whether there are any (`named` false: GET /api/classes says "class <id>", and
   * `classes` names are refused): what the page needs to resolve names in share links as `--classes` does.
   */
  classTable: { name: string; named: boolean };
  /** What an empty request resolves to: the page's initial control values. */
  defaults: ResolvedRequest;
  limits: { maxSamplingSteps: number; maxImages: number; maxQueue: number; maxBodyBytes: number };
  samplers: readonly string[];
  guidanceForms: readonly string[];
  spacings: readonly string[];
}

export interface ClassEntry {
  id: number;
  name: string;
  synonyms: string[];
}

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobStatus {
  id: string;
  state: JobState;
  /** Jobs ahead of this one (the running one included); 0 once running. */
  position: number;
  step: number;
  steps: number;
  options: ResolvedRequest;
  resultUrl: string | null;
  error: string | null;
}

/** One server-sent event: `event: <type>` and `data: <JSON of the rest>`. */
export type JobEvent =
  | { type: 'queued'; id: string; position: number; options: ResolvedRequest }
  | { type: 'started'; id: string }
  | { type: 'phase'; phase: string }
  | {
      type: 'step';
      i: number; // 1-based: steps done
      n: number;
      elapsedSeconds: number;
      etaSeconds: number;
      /** data:image/png;base64,… of the predicted x0 grid, every few steps. */
      preview?: string;
    }
  | {
      type: 'done';
      id: string;
      resultUrl: string;
      width: number;
      height: number;
      timings: { sampleSeconds: number; decodeSeconds: number; steps: number };
    }
  | { type: 'failed'; error: string }
  | { type: 'cancelled'; reason: string };
