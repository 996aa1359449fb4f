/** The page's side of api.ts: JSON calls and the POST /api/generate event stream. */
import type { ApiError, ClassEntry, GenerateRequest, JobEvent, ServerInfo } from '../../src/server/api.js';

export type { ApiError, ClassEntry, GenerateRequest, JobEvent, ServerInfo };

/** A refused request (4xx/5xx), carrying the server's message and the field it concerns. */
export class ServerError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiError,
  ) {
    super(body.error);
  }
}

async function errorOf(res: Response): Promise<ServerError> {
  let body: ApiError;
  try {
    body = (await res.json()) as ApiError;
  } catch {
    body = { error: `the server answered ${res.status} ${res.statusText}` };
  }
  return new ServerError(res.status, body);
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw await errorOf(res);
  return (await res.json()) as T;
}

export async function cancelJob(id: string): Promise<void> {
  await fetch(`/api/jobs/${id}`, { method: 'DELETE' });
}

/**
 * Starts a job and calls `onEvent` for each event until it ends. Rejects with ServerError when the
 * request is refused; aborting `signal` closes the stream, which cancels the job on the server.
 */
export async function generate(request: GenerateRequest, onEvent: (event: JobEvent) => void, signal?: AbortSignal): Promise<void> {
  const res = await fetch('/api/generate', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
    body: JSON.stringify(request),
    signal,
  });
  if (!res.ok || !res.body) throw await errorOf(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = '';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) type = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (type !== '') onEvent({ type, ...JSON.parse(data) } as JobEvent);
    }
  }
}
