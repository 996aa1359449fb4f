/**
 * `dit serve`'s HTTP server (node:http, no framework): the JSON API of api.ts over one loaded
 * pipeline, and the built page. Requests are validated by the pipeline's own resolver before
 * anything is queued, so a bad value costs nothing and reads the same as on the CLI.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_IMAGES, MAX_SAMPLING_STEPS, SERVE_DEFAULTS, samplersFor, GUIDANCE_FORMS, SPACINGS, type ResolvedGenerateOptions, type UserGenerateOptions } from '../options.js';
import type { ModelInfo, Pipeline } from '../pipeline.js';
import { className, searchClasses, type ClassTable } from '../class-names.js';
import { DitError, UsageError } from '../errors.js';
import type { ApiError, ClassEntry, JobEvent, ServerInfo } from './api.js';
import { createJobQueue, type Job, type JobQueue } from './jobs.js';
import { RequestError, parseGenerateBody, resolveOrReject, toResolvedRequest } from './request.js';
import { DEFAULT_SITE_ROOT, DEFAULT_WEB_ROOT, pageBuilt, serveStatic } from './static.js';
import { siteFallbacks } from './site-files.js';
import { CROSS_ORIGIN_ISOLATION } from './isolation.js';
import { classNamesOf, serverInfo } from './model-title.js';

export interface ServerOptions {
  readonly pipeline: Pipeline;
  /** The built page; default dist/web in the package. */
  readonly webRoot?: string;
  /** Most images in one request, 1..MAX_IMAGES (default in SERVER_DEFAULTS, as for the rest). */
  readonly maxImages?: number;
  /** Most jobs waiting or running, ≥ 1. */
  readonly maxQueue?: number;
  /** Largest accepted request body. */
  readonly maxBodyBytes?: number;
  /** Finished jobs whose PNG stays downloadable. */
  readonly keepResults?: number;
  /** One line per finished, failed or cancelled job (e.g. to stderr). */
  readonly log?: (line: string) => void;
  /** Seconds between keep-alive comments on idle event streams. */
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

/** The server's own limits when `dit serve` or a caller leaves them out. */
export const SERVER_DEFAULTS = Object.freeze({
  maxImages: SERVE_DEFAULTS.maxImages,
  maxQueue: SERVE_DEFAULTS.maxQueue,
  /** A full request is a few hundred bytes. */
  maxBodyBytes: 16 * 1024,
  keepResults: 32,
  heartbeatSeconds: 15,
});

/** What every route handler reads: the loaded model, its queue, and the server's settings. */
interface ServerContext {
  readonly pipeline: Pipeline;
  readonly queue: JobQueue;
  readonly info: ServerInfo;
  /** Per class id, its names (display name first), for /api/classes. */
  readonly classNames: ClassTable;
  readonly webRoot: string;
  readonly heartbeatMs: number;
  readonly log: ((line: string) => void) | undefined;
  /** Set once listening: requests must then name a loopback host when the address is one. */
  address: AddressInfo | undefined;
}

export function createDitServer(opts: ServerOptions): DitServer {
  const { pipeline } = opts;
  if (!pipeline.info.makesImages) {
    throw new UsageError(`dit serve shows images, but this ${pipeline.info.config.in_channels}-channel latent model was loaded without a VAE; drop --vae none (or pass --vae ema|mse|PATH)`);
  }
  const limits = serverLimits(opts);
  const queue = createJobQueue(pipeline, { maxQueue: limits.maxQueue, keepResults: opts.keepResults ?? SERVER_DEFAULTS.keepResults });
  const ctx: ServerContext = {
    pipeline,
    queue,
    info: serverInfo(pipeline, limits),
    classNames: classNamesOf(pipeline.info),
    webRoot: opts.webRoot ?? DEFAULT_WEB_ROOT,
    heartbeatMs: (opts.heartbeatSeconds ?? SERVER_DEFAULTS.heartbeatSeconds) * 1000,
    log: opts.log,
    address: undefined,
  };
  const server = http.createServer((req, res) => {
    route(ctx, req, res).catch((err: unknown) => sendFailure(req, res, err));
  });
  return {
    server,
    queue,
    info: ctx.info,
    async listen(port, host) {
      ctx.address = await listen(server, port, host);
      return pageUrl(ctx.address);
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

/**
 * The limits with their defaults. Callers pass checked values (`dit serve` checks its flags), so
 * a value out of range here is a bug in the caller, not a usage error.
 */
function serverLimits(opts: ServerOptions): ServerInfo['limits'] {
  const limits = {
    maxSamplingSteps: MAX_SAMPLING_STEPS,
    maxImages: opts.maxImages ?? SERVER_DEFAULTS.maxImages,
    maxQueue: opts.maxQueue ?? SERVER_DEFAULTS.maxQueue,
    maxBodyBytes: opts.maxBodyBytes ?? SERVER_DEFAULTS.maxBodyBytes,
  };
  if (!Number.isInteger(limits.maxImages) || limits.maxImages < 1 || limits.maxImages > MAX_IMAGES) {
    throw new Error(`createDitServer: maxImages ${limits.maxImages} is not an integer in 1..${MAX_IMAGES}`);
  }
  if (!Number.isInteger(limits.maxQueue) || limits.maxQueue < 1) throw new Error(`createDitServer: maxQueue ${limits.maxQueue} is not an integer ≥ 1`);
  return limits;
}

const JOB_PATH = /^\/api\/jobs\/([0-9a-f-]{36})(\/result\.png|\/cancel)?$/;

// ---- routing ------------------------------------------------------------------------------

async function route(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  checkHost(ctx, req);
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (path === '/api/info') {
    allowMethods(req, path, 'GET');
    return sendJson(res, 200, ctx.info);
  }
  if (path === '/api/classes') {
    allowMethods(req, path, 'GET');
    return sendJson(res, 200, findClasses(ctx.classNames, url.searchParams.get('q') ?? ''));
  }
  if (path === '/api/generate') {
    allowMethods(req, path, 'POST');
    return handleGenerate(ctx, req, res);
  }
  const job = JOB_PATH.exec(path);
  if (job) return handleJob(ctx, req, res, url, job[1]!, job[2]);
  if (path.startsWith('/api/')) throw new RequestError(404, `no API route ${path}; see /api/info`);
  allowMethods(req, path, 'GET, HEAD');
  servePage(ctx.webRoot, path, req, res);
}

/** DNS rebinding: a web page whose name now points at 127.0.0.1 would be "same origin" here. */
function checkHost(ctx: { readonly address: AddressInfo | undefined }, req: IncomingMessage): void {
  const address = ctx.address;
  if (address && LOOPBACK_ADDRESS.test(address.address) && !isLoopbackHost(req.headers.host)) {
    throw new RequestError(403, `Host ${JSON.stringify(req.headers.host ?? '')} is not this server's name; open it as http://127.0.0.1:${address.port}/`);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function allowMethods(req: IncomingMessage, path: string, methods: string): void {
  const method = req.method ?? 'GET';
  if (!methods.split(', ').includes(method)) {
    throw new RequestError(405, `${method} ${path} is not supported: use ${methods}`, undefined, { Allow: methods });
  }
}

/** Answers a handler's failure: a RequestError as its JSON, anything else as a 500. */
function sendFailure(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (!(err instanceof RequestError)) {
    sendJson(res, 500, { error: `internal error: ${err instanceof Error ? err.message : String(err)}` } satisfies ApiError);
    return;
  }
  const headers: http.OutgoingHttpHeaders = { ...err.headers };
  // A refused body may still be arriving: close rather than read it.
  if (err.status === 413) headers['Connection'] = 'close';
  sendJson(res, err.status, err.toJSON(), headers);
  if (err.status === 413) req.resume();
}

// ---- GET /api/classes ---------------------------------------------------------------------

function findClasses(classNames: ClassTable, query: string): ClassEntry[] {
  return searchClasses(classNames, query).map((id) => {
    const [name, ...synonyms] = classNames[id]!;
    return { id, name: name!, synonyms };
  });
}

// ---- POST /api/generate -------------------------------------------------------------------

async function handleGenerate(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const options = parseGenerateBody(await readJsonBody(req, ctx.info.limits.maxBodyBytes));
  checkNumImages(options, ctx.info.limits.maxImages);
  const resolved = resolveOrReject(ctx.pipeline.resolve, options);
  checkImageCount(options, resolved.labels.length, ctx.info.limits.maxImages);
  if (req.socket.destroyed) return; // the client left while its body was read: nothing to run

  const logEnd = (event: JobEvent) => {
    const line = jobEndLine(job.id, resolved, event);
    if (line !== undefined) ctx.log?.(line);
  };
  const stream = openEventStream(res, ctx.heartbeatMs, logEnd);
  const job = ctx.queue.submit(options, resolved, stream.send);
  res.on('close', () => {
    if (!stream.close()) return;
    const reason = 'the client disconnected';
    ctx.queue.cancel(job.id, reason);
    logEnd({ type: 'cancelled', reason });
  });
}

/** The body of a JSON request, refused unless it says it is JSON. */
function readJsonBody(req: IncomingMessage, limit: number): Promise<string> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    // Also keeps other web sites out: a cross-origin JSON POST needs a CORS preflight we never grant.
    throw new RequestError(415, `the request body must be JSON sent with Content-Type: application/json (got ${JSON.stringify(type)})`);
  }
  return readBody(req, limit);
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

/**
 * A whole number of images above this server's cap is refused with the cap, before the resolver
 * would refuse a count above the library's larger MAX_IMAGES with that range instead.
 */
function checkNumImages(options: UserGenerateOptions, maxImages: number): void {
  const n = typeof options.numImages === 'string' && options.numImages.trim() !== '' ? Number(options.numImages) : options.numImages;
  if (typeof n === 'number' && Number.isInteger(n)) checkImageCount(options, n, maxImages);
}

/** The server's own cap on images per request, below the library's MAX_IMAGES. */
function checkImageCount(options: UserGenerateOptions, count: number, maxImages: number): void {
  if (count <= maxImages) return;
  const field = options.numImages !== undefined ? 'numImages' : options.classes !== undefined ? 'classes' : 'classLabels';
  throw new RequestError(400, `${count} images were asked for: this server allows at most ${maxImages} per request; lower the number of images`, field);
}

interface EventStream {
  readonly send: (event: JobEvent) => void;
  /** Stops the stream when the client has gone; true when the job had not ended yet. */
  close(): boolean;
}

/**
 * A job's events as text/event-stream. Headers go out with the first event, so a refusal by the
 * queue (503) can still be JSON; the last event (done, failed, cancelled) ends the response.
 */
function openEventStream(res: ServerResponse, heartbeatMs: number, onEnd: (event: JobEvent) => void): EventStream {
  let over = false;
  let heartbeat: NodeJS.Timeout | undefined;
  return {
    send(event) {
      if (over) return;
      if (!res.headersSent) {
        res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
        heartbeat = setInterval(() => res.write(': keep-alive\n\n'), heartbeatMs);
      }
      const { type, ...data } = event;
      res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
      if (type === 'done' || type === 'failed' || type === 'cancelled') {
        over = true;
        clearInterval(heartbeat);
        res.end();
        onEnd(event);
      }
    },
    close() {
      clearInterval(heartbeat);
      if (over) return false;
      over = true; // nothing more can be written to this client
      return true;
    },
  };
}

/** The log line for a job's last event. */
function jobEndLine(id: string, resolved: ResolvedGenerateOptions, event: JobEvent): string | undefined {
  const n = resolved.labels.length;
  const tag = `job ${id.slice(0, 8)} (${n} image${n === 1 ? '' : 's'}, ${resolved.numSamplingSteps} steps, ${resolved.sampler}, CFG ${resolved.cfgScale}, seed ${resolved.seed})`;
  if (event.type === 'done') {
    const t = event.timings;
    return `${tag}: done in ${(t.sampleSeconds + t.decodeSeconds).toFixed(1)} s (sampling ${t.sampleSeconds.toFixed(1)} s, decoding ${t.decodeSeconds.toFixed(1)} s)`;
  }
  if (event.type === 'failed') return `${tag}: failed: ${event.error}`;
  if (event.type === 'cancelled') return `${tag}: cancelled (${event.reason})`;
  return undefined;
}

// ---- /api/jobs/:id ------------------------------------------------------------------------

function handleJob(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, id: string, action: string | undefined): void {
  const job = ctx.queue.get(id);
  if (!job) throw new RequestError(404, `no job ${id} on this server (finished jobs are kept for a while, then dropped); start a new one`);
  if (action === '/result.png') {
    allowMethods(req, url.pathname, 'GET');
    return sendResultPng(res, job, url.searchParams.has('download'));
  }
  allowMethods(req, url.pathname, action === '/cancel' ? 'POST' : 'GET, DELETE');
  if (req.method === 'GET') return sendJson(res, 200, ctx.queue.status(id));
  const cancelled = ctx.queue.cancel(id, 'cancelled by request');
  if (cancelled) sendJson(res, 202, ctx.queue.status(id));
  else sendJson(res, 409, { error: `job ${id} is already ${job.state}; nothing to cancel` } satisfies ApiError);
}

function sendResultPng(res: ServerResponse, job: Job, download: boolean): void {
  if (!job.png) throw new RequestError(409, `job ${job.id} is ${job.state}; its image exists once it is done`);
  const name = `dit-seed${job.resolved.seed}-cfg${job.resolved.cfgScale}-${job.resolved.numSamplingSteps}steps.png`;
  res.writeHead(200, {
    'Content-Type': 'image/png',
    'Content-Length': job.png.byteLength,
    'Content-Disposition': `${download ? 'attachment' : 'inline'}; filename="${name}"`,
    'Cache-Control': 'private, max-age=3600',
  });
  res.end(job.png);
}

// ---- the page -----------------------------------------------------------------------------

function servePage(webRoot: string, path: string, req: IncomingMessage, res: ServerResponse, fallbacks?: ReadonlyMap<string, string>): void {
  if (!pageBuilt(webRoot)) {
    throw new RequestError(500, `the page is not built (no index.html in ${webRoot}); run \`npm run build\` in the dit-ts folder`);
  }
  if (!serveStatic(webRoot, path, res, { acceptEncoding: req.headers['accept-encoding'], fallbacks })) throw new RequestError(404, `no file ${path}`);
}

// ---- the site: `dit serve --browser` ------------------------------------------------------

export interface SiteServer {
  readonly server: http.Server;
  /** Starts listening; port 0 picks a free one. Resolves to the page's URL. */
  listen(port: number, host: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * `dit serve --browser`: serves the static site (npm run build:site → dist/site), whose page runs
 * the whole pipeline itself; this server only sends files (GET and HEAD), cross-origin isolated.
 */
export function createSiteServer(opts: { readonly siteRoot?: string } = {}): SiteServer {
  const root = opts.siteRoot ?? DEFAULT_SITE_ROOT;
  // An installed package leaves out the site's copies of onnxruntime-web's WASM and the weights.
  const fallbacks = siteFallbacks(root);
  const ctx: { address: AddressInfo | undefined } = { address: undefined };
  const server = http.createServer((req, res) => {
    try {
      checkHost(ctx, req);
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      allowMethods(req, path, 'GET, HEAD');
      for (const [name, value] of Object.entries(CROSS_ORIGIN_ISOLATION)) res.setHeader(name, value);
      servePage(root, path, req, res, fallbacks);
    } catch (err) {
      sendFailure(req, res, err);
    }
  });
  return {
    server,
    async listen(port, host) {
      ctx.address = await listen(server, port, host);
      return pageUrl(ctx.address);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ---- listening ----------------------------------------------------------------------------

function pageUrl(address: AddressInfo): string {
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shown}:${address.port}/`;
}

function listen(server: http.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(listenError(err, port, host));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
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

/** The error listen() would give for this address, as a DitError a user can act on. */
function listenError(err: NodeJS.ErrnoException, port: number, host: string): Error {
  if (err.code === 'EADDRINUSE') return new DitError(`port ${port} on ${host} is already in use; pass another --port (0 picks a free one)`);
  if (err.code === 'EACCES') return new DitError(`port ${port} on ${host} needs privileges; pass a --port above 1023`);
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') {
    return new UsageError(`--host ${host} is not an address of this machine; use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)`);
  }
  return err;
}

const LOOPBACK_ADDRESS = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

/** Whether a Host header names this machine's loopback (localhost or a loopback address, any port). */
function isLoopbackHost(header: string | undefined): boolean {
  const h = (header ?? '').toLowerCase();
  const name = h.startsWith('[') ? h.slice(1, h.indexOf(']')) : h.split(':')[0]!;
  return name === 'localhost' || LOOPBACK_ADDRESS.test(name);
}
