/** Messages between the page and its pipeline worker (the in-browser back end). */
import type { ApiError, ClassEntry, GenerateRequest, JobEvent, ServerInfo } from '../client.js';
import type { ComputeQuery } from '../share.js';

/** What the worker opens: the model the site ships, or files the user gave the page. */
export type ModelChoice =
  | { readonly kind: 'embedded'; readonly weightsUrl: string; readonly configUrl: string }
  | { readonly kind: 'files'; readonly weights: File; readonly config?: File; readonly modelIndex?: File; readonly vae?: { readonly weights: File; readonly config?: File } };

export type ToWorker =
  | { readonly type: 'open'; readonly model: ModelChoice; readonly compute: ComputeQuery }
  | { readonly type: 'generate'; readonly id: string; readonly request: GenerateRequest }
  | { readonly type: 'cancel'; readonly id: string };

export type FromWorker =
  | { readonly type: 'phase'; readonly text: string }
  | { readonly type: 'opened'; readonly info: ServerInfo; readonly classes: ClassEntry[]; readonly backend: string; readonly seconds: number }
  | { readonly type: 'open-failed'; readonly error: string }
  | { readonly type: 'event'; readonly id: string; readonly event: JobEvent }
  | { readonly type: 'refused'; readonly id: string; readonly body: ApiError };
