/**
 * `dit serve`'s HTTP server (node:http, no framework): the JSON API of api.ts over one loaded
 * pipeline, and the built page. Requests are validated by the pipeline's own resolver before
 * anything is queued, so a bad value costs nothing and reads the same as on the CLI.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_IMAGES, MAX_SAMPLING_STEPS, SAMPLERS, GUIDANCE_FORMS, SPACINGS } from '../options.js';
import type { Pipeline } from '../pipeline.js';
import { DitError } from '../errors.js';
import type { ApiError, ClassEntry, JobEvent, ServerInfo } from './api.js';
import { createJobQueue, type JobQueue } from './jobs.js';
import { RequestError, parseGenerateBody, resolveOrReject, toResolvedRequest } from './request.js';
import { DEFAULT_WEB_ROOT, pageBuilt, serveStatic } from './static.js';

export interface ServerOptions {
  readonly pipeline: Pipeline;
  /** The built page; default dist/web in the package. */
  readonly webRoot?: string;
  /** Most images in one request (default 64; the library allows up to MAX_IMAGES). */
  readonly maxImages?: number;
  /** Most jobs waiting or running (default 8). */
  readonly maxQueue?: number;
  /** Largest accepted request body (default 16 KiB: a full request is a few hundred bytes). */
  readonly maxBodyBytes?: number;
  /** Finished jobs whose PNG stays downloadable (default 32). */
  readonly keepResults?: number;
  /** One line per finished, failed or cancelled job (e.g. to stderr). */
  readonly log?: (line: string) => void;
  /** Seconds between keep-alive comments on idle event streams (default 15). */
  readonly heartbeatSeconds?: number;
}

export interface DitServer {
  readonly server: http.Server;
  readonly queue: JobQueue;
  readonly info: ServerInfo;
  /** Starts listening; port 0 picks a free one. Resolves to the page's URL. */
  listen(port: number, host: string): Promise<string>;
  /** Cancels every job, waits for the running one to stop, closes all connections. */
  close(): Promise<void>;
}

const JOB_PATH = /^\/api\/jobs\/([0-9a-f-]{36})(\/result\.png|\/cancel)?$/;

function sendJson(res: ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, error: ApiError, headers: http.OutgoingHttpHeaders = {}): void {
  sendJson(res, status, error, headers);
}

/** Reads the body up to `limit` bytes; more → RequestError(413), without buffering the rest. */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = (size: string) =>
    new RequestError(413, `the request body is ${size}, more than the ${limit} bytes allowed; send only the options (a few hundred bytes)`);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(`${declared} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(tooLarge(`over ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
    });
  });
}

const LOOPBACK_ADDRESS = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

/** Whether a Host header names this machine's loopback (localhost or a loopback address, any port). */
function isLoopbackHost(header: string | undefined): boolean {
  const h = (header ?? '').toLowerCase();
  const name = h.startsWith('[') ? h.slice(1, h.indexOf(']')) : h.split(':')[0]!;
  return name === 'localhost' || LOOPBACK_ADDRESS.test(name);
}

/** The error listen() would give for this address, as a DitError a user can act on. */
function listenError(err: NodeJS.ErrnoException, port: number, host: string): Error {
  if (err.code === 'EADDRINUSE') return new DitError(`port ${port} on ${host} is already in use; pass another --port (0 picks a free one)`);
  if (err.code === 'EACCES') return new DitError(`port ${port} on ${host} needs privileges; pass a --port above 1023`);
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') {
    return new DitError(`--host ${host} is not an address of this machine; use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)`, 2);
  }
  return err;
}

/**
 * Binds and releases the address, so a taken port or a wrong host fails before a model spends
 * seconds (or minutes, for DiT-XL/2) loading.
 */
export function checkAddress(port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = http.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, port, host)));
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

export function createDitServer(opts: ServerOptions): DitServer {
  const { pipeline, log } = opts;
  const webRoot = opts.webRoot ?? DEFAULT_WEB_ROOT;
  const maxImages = opts.maxImages ?? 64;
  const maxQueue = opts.maxQueue ?? 8;
  const maxBodyBytes = opts.maxBodyBytes ?? 16 * 1024;
  const heartbeatMs = (opts.heartbeatSeconds ?? 15) * 1000;
  if (!Number.isInteger(maxImages) || maxImages < 1 || maxImages > MAX_IMAGES) {
    throw new DitError(`--max-images ${maxImages} is out of range: must be an integer in 1..${MAX_IMAGES}`, 2);
  }
  if (!Number.isInteger(maxQueue) || maxQueue < 1) throw new DitError(`--max-queue ${maxQueue} must be an integer ≥ 1`, 2);

  if (!pipeline.info.makesImages) {
    throw new DitError(`dit serve shows images, but this ${pipeline.info.config.in_channels}-channel latent model was loaded without a VAE; drop --vae none (or pass --vae ema|mse|PATH)`, 2);
  }
  const queue = createJobQueue(pipeline, { maxQueue, keepResults: opts.keepResults ?? 32 });
  const model = pipeline.info;
  const info: ServerInfo = {
    model: model.description,
    embedded: model.embedded,
    imageSize: model.imageSize,
    numClasses: model.config.num_classes,
    defaults: toResolvedRequest(pipeline.resolve({})),
    limits: { maxSamplingSteps: MAX_SAMPLING_STEPS, maxImages, maxQueue, maxBodyBytes },
    samplers: SAMPLERS,
    guidanceForms: GUIDANCE_FORMS,
    spacings: SPACINGS,
  };
  const classes: ClassEntry[] = Array.from({ length: model.config.num_classes }, (_, id) => {
    const names = model.classTable?.[id] ?? [`class ${id}`];
    return { id, name: names[0]!, synonyms: names.slice(1) };
  });

  function searchClasses(q: string): ClassEntry[] {
    const needle = q.toLowerCase().replace(/[_\-\s]+/g, ' ').trim();
    if (needle === '') return classes;
    return classes.filter(
      (c) => String(c.id) === needle || [c.name, ...c.synonyms].some((s) => s.toLowerCase().replace(/[_\-\s]+/g, ' ').includes(needle)),
    );
  }

  let loopbackOnly = false;

  async function generate(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(type)) {
      // Also keeps other web sites out: a cross-origin JSON POST needs a CORS preflight we never grant.
      throw new RequestError(415, `the request body must be JSON sent with Content-Type: application/json (got ${JSON.stringify(type)})`);
    }
    const options = parseGenerateBody(await readBody(req, maxBodyBytes));
    const resolved = resolveOrReject(pipeline.resolve, options);
    if (resolved.labels.length > maxImages) {
      const field = options.numImages !== undefined ? 'numImages' : options.classes !== undefined ? 'classes' : 'classLabels';
      throw new RequestError(400, `${resolved.labels.length} images were asked for: this server allows at most ${maxImages} per request; lower the number of images`, field);
    }

    let over = false;
    let heartbeat: NodeJS.Timeout | undefined;
    // Headers go out with the first event, so a refusal by the queue (503) can still be JSON.
    const send = (event: JobEvent) => {
      if (over) return;
      if (!res.headersSent) {
        res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
        heartbeat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
      }
      const { type: name, ...data } = event;
      res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      if (event.type === 'done' || event.type === 'failed' || event.type === 'cancelled') {
        over = true;
        clearInterval(heartbeat);
        res.end();
        logEnd(event);
      }
    };
    const what = `${resolved.labels.length} image${resolved.labels.length === 1 ? '' : 's'}, ${resolved.numSamplingSteps} steps, ${resolved.sampler}, CFG ${resolved.cfgScale}, seed ${resolved.seed}`;
    const logEnd = (event: JobEvent) => {
      const tag = `job ${job.id.slice(0, 8)} (${what})`;
      if (event.type === 'done') {
        const t = event.timings;
        log?.(`${tag}: done in ${(t.sampleSeconds + t.decodeSeconds).toFixed(1)} s (sampling ${t.sampleSeconds.toFixed(1)} s, decoding ${t.decodeSeconds.toFixed(1)} s)`);
      } else if (event.type === 'failed') log?.(`${tag}: failed: ${event.error}`);
      else if (event.type === 'cancelled') log?.(`${tag}: cancelled (${event.reason})`);
    };
    if (req.socket.destroyed) return; // the client left while its body was read: nothing to run
    const job = queue.submit(options, resolved, send);
    res.on('close', () => {
      clearInterval(heartbeat);
      if (over) return;
      over = true; // nothing more can be written to this client
      queue.cancel(job.id, 'the client disconnected');
      logEnd({ type: 'cancelled', reason: 'the client disconnected' });
    });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const p = url.pathname;
    if (loopbackOnly && !isLoopbackHost(req.headers.host)) {
      // DNS rebinding: a web page whose name now points at 127.0.0.1 would be "same origin" here.
      throw new RequestError(403, `Host ${JSON.stringify(req.headers.host ?? '')} is not this server's name; open it as http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    }
    const allow = (methods: string) => {
      if (!methods.split(', ').includes(method)) {
        throw new RequestError(405, `${method} ${p} is not supported: use ${methods}`, undefined, { Allow: methods });
      }
    };

    if (p === '/api/info') {
      allow('GET');
      return sendJson(res, 200, info);
    }
    if (p === '/api/classes') {
      allow('GET');
      return sendJson(res, 200, searchClasses(url.searchParams.get('q') ?? ''));
    }
    if (p === '/api/generate') {
      allow('POST');
      return generate(req, res);
    }
    const m = JOB_PATH.exec(p);
    if (m) {
      const id = m[1]!;
      const tail = m[2];
      const job = queue.get(id);
      if (!job) throw new RequestError(404, `no job ${id} on this server (finished jobs are kept for a while, then dropped); start a new one`);
      if (tail === '/result.png') {
        allow('GET');
        if (!job.png) throw new RequestError(409, `job ${id} is ${job.state}; its image exists once it is done`);
        const name = `dit-seed${job.resolved.seed}-cfg${job.resolved.cfgScale}-${job.resolved.numSamplingSteps}steps.png`;
        res.writeHead(200, {
          'Content-Type': 'image/png',
          'Content-Length': job.png.byteLength,
          'Content-Disposition': `${url.searchParams.has('download') ? 'attachment' : 'inline'}; filename="${name}"`,
          'Cache-Control': 'private, max-age=3600',
        });
        res.end(job.png);
        return;
      }
      if (tail === '/cancel') allow('POST');
      else allow('GET, DELETE');
      if (method === 'GET') return sendJson(res, 200, queue.status(id));
      const cancelled = queue.cancel(id, 'cancelled by request');
      return sendJson(res, cancelled ? 202 : 409, cancelled ? queue.status(id) : { error: `job ${id} is already ${job.state}; nothing to cancel` });
    }
    if (p.startsWith('/api/')) throw new RequestError(404, `no API route ${p}; see /api/info`);

    allow('GET, HEAD');
    if (!pageBuilt(webRoot)) {
      throw new RequestError(500, `the page is not built (no index.html in ${webRoot}); run \`npm run build\` in the dit-ts folder`);
    }
    if (!serveStatic(webRoot, p, res)) throw new RequestError(404, `no file ${p}`);
  }

  const server = http.createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof RequestError) {
        const headers: http.OutgoingHttpHeaders = { ...err.headers };
        // A refused body may still be arriving: close rather than read it.
        if (err.status === 413) headers['Connection'] = 'close';
        sendError(res, err.status, err.toJSON(), headers);
        if (err.status === 413) req.resume();
        return;
      }
      sendError(res, 500, { error: `internal error: ${err instanceof Error ? err.message : String(err)}` });
    });
  });

  return {
    server,
    queue,
    info,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException) => reject(listenError(err, port, host));
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          const addr = server.address() as AddressInfo;
          loopbackOnly = LOOPBACK_ADDRESS.test(addr.address);
          const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
          resolve(`http://${shown}:${addr.port}/`);
        });
      });
    },
    async close() {
      await queue.drain();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
