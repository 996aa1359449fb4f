/** A small HTTP client for the API tests: JSON calls and POST /api/generate's event stream. */
import http from 'node:http';
import type { JobEvent } from '../../src/server/api.js';

export interface JsonResponse<T = unknown> {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: T;
  raw: Buffer;
}

export function request(url: string, init: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer } = {}): Promise<JsonResponse<any>> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const json = /json/.test(res.headers['content-type'] ?? '');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: json ? JSON.parse(raw.toString('utf8')) : undefined, raw });
      });
    });
    // The server may refuse (413) and close before the whole body is written: the answer counts.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(init.body);
  });
}

export interface EventStream {
  readonly status: number;
  /** The JSON body when the request was refused (status ≠ 200). */
  readonly error: { error: string; field?: string } | undefined;
  readonly events: JobEvent[];
  /** The next event of `type` not yet returned by an earlier `until` for that type. */
  until<K extends JobEvent['type']>(type: K): Promise<Extract<JobEvent, { type: K }>>;
  /** Resolves when the server ends the stream. */
  readonly ended: Promise<void>;
  /** Drops the connection, as a closed browser tab does. */
  disconnect(): void;
}

export function postGenerate(base: string, body: unknown): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const req = http.request(`${base}api/generate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status,
            error: JSON.parse(Buffer.concat(chunks).toString('utf8')),
            events: [],
            until: () => Promise.reject(new Error(`request refused with ${status}`)),
            ended: Promise.resolve(),
            disconnect: () => {},
          }),
        );
        return;
      }
      const events: JobEvent[] = [];
      const seen = new Map<string, number>();
      const waiters: Array<() => void> = [];
      let buffer = '';
      let finished = false;
      const ended = new Promise<void>((r) => {
        res.on('end', () => {
          finished = true;
          r();
          waiters.splice(0).forEach((w) => w());
        });
        res.on('close', () => {
          finished = true;
          r();
          waiters.splice(0).forEach((w) => w());
        });
      });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data) events.push({ type, ...JSON.parse(data) } as JobEvent);
        }
        waiters.splice(0).forEach((w) => w());
      });
      resolve({
        status,
        error: undefined,
        events,
        ended,
        disconnect: () => req.destroy(),
        until(type) {
          return new Promise((ok, fail) => {
            const check = () => {
              const from = seen.get(type) ?? 0;
              const k = events.findIndex((e, idx) => idx >= from && e.type === type);
              if (k >= 0) {
                seen.set(type, k + 1);
                ok(events[k] as never);
              } else if (finished) {
                fail(new Error(`the stream ended without a "${type}" event; got ${events.map((e) => e.type).join(', ')}`));
              } else {
                waiters.push(check);
              }
            };
            check();
          });
        },
      });
    });
    req.end(text);
  });
}
