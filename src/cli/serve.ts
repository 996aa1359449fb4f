/**
 * `dit serve`: the notebook's controls as a local web page over one loaded model, with live
 * progress. Loopback only unless --host says otherwise: the server has no authentication.
 */
import type { Command } from 'commander';
import { resolveLoadOptions, resolveServeOptions, SERVE_DEFAULTS } from '../options.js';
import type { Pipeline } from '../pipeline.js';
import { checkAddress, createDitServer, createSiteServer } from '../server/app.js';
import { UsageError } from '../errors.js';
import { createWorkerPipeline } from '../server/pipeline-proxy.js';
import { addFlags, flag, LOAD_FLAG_NAMES, loadOptionsFrom, type LoadFlags } from './flags.js';
import { createProgress } from './progress.js';

interface ServeFlags extends LoadFlags {
  browser?: boolean;
  port: string;
  host: string;
  maxImages: string;
  maxQueue: string;
  quiet?: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Flags that choose what the server computes with; the page computes itself under --browser. */
const MODEL_FLAGS = ['ckpt', 'model', 'config', 'vae', 'imageSize', 'numClasses', 'threads'] as const;

/**
 * Aborted by the first SIGINT or SIGTERM, which says "stopping" and gives the signals back (a
 * second one ends the process at once); `release()` gives them back too. Listening from the start,
 * so that a signal while the model is still loading stops the worker thread cleanly (it removes the
 * compiled model it was writing).
 */
function stopSignal(): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const release = () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
  const stop = () => {
    release();
    process.stderr.write('dit serve: stopping\n');
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return { signal: controller.signal, release };
}

/** Serves until `signal`, then closes. */
async function serveUntil(signal: AbortSignal, close: () => Promise<void>): Promise<void> {
  if (!signal.aborted) await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  await close().catch(() => {});
}

/** `dit serve --browser`: the static site, cross-origin isolated; no model is loaded here. */
async function serveSite(flags: ServeFlags, port: number, host: string): Promise<void> {
  const set = MODEL_FLAGS.filter((name) => flags[name] !== undefined);
  if (set.length > 0) {
    const shown = set.map((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ');
    throw new UsageError(`dit serve --browser: ${shown} ${set.length === 1 ? 'chooses' : 'choose'} what this process computes with, but with --browser the page computes (it opens checkpoints from the browser's files); drop ${shown} or drop --browser`);
  }
  await checkAddress(port, host);
  const app = createSiteServer();
  const url = await app.listen(port, host);
  if (!LOOPBACK.has(host)) process.stderr.write(`dit: warning: listening on ${host}: anyone who can reach this machine can open the page (it computes in their browser)\n`);
  if (!flags.quiet) process.stderr.write('dit serve: the page runs the model in the browser; this process only sends files\n');
  process.stdout.write(`${url}\n`);
  const stop = stopSignal();
  await serveUntil(stop.signal, () => app.close());
}

export function register(program: Command): void {
  const cmd = program.command('serve').description(`a local web page with the notebook's controls, live progress and history (default http://${SERVE_DEFAULTS.host}:${SERVE_DEFAULTS.port}/)`);
  addFlags(cmd, LOAD_FLAG_NAMES);
  cmd
    .option('--port <n>', 'TCP port (0 picks a free one)', String(SERVE_DEFAULTS.port))
    .option('--host <address>', 'address to listen on; 0.0.0.0 opens it to the network (no authentication)', SERVE_DEFAULTS.host)
    .option('--max-images <n>', 'most images per request', String(SERVE_DEFAULTS.maxImages))
    .option('--max-queue <n>', 'most jobs waiting or running at once', String(SERVE_DEFAULTS.maxQueue))
    .option('--browser', 'serve the page that runs the model in the browser (WASM or WebGPU; open checkpoints from local files); this process only sends files')
    .addOption(flag('quiet'))
    .action(async (flags: ServeFlags) => {
      const { port, host, maxImages, maxQueue } = resolveServeOptions(flags);
      if (flags.browser) return serveSite(flags, port, host);
      const load = resolveLoadOptions(loadOptionsFrom(flags)); // bad flags fail before the model loads
      await checkAddress(port, host);

      const progress = createProgress({ quiet: flags.quiet ?? false });
      const stop = stopSignal();
      let pipeline: Pipeline | undefined;
      try {
        try {
          // In a worker thread, so the page and the API answer while a step runs.
          pipeline = await createWorkerPipeline(load, { onPhase: (p) => progress.phase(p), signal: stop.signal });
        } catch (err) {
          if (stop.signal.aborted) return; // stopped while loading
          throw err;
        }
        progress.done();
        if (stop.signal.aborted) return;
        const log = flags.quiet ? undefined : (line: string) => process.stderr.write(`dit serve: ${line}\n`);
        const app = createDitServer({ pipeline, maxImages, maxQueue, log });
        const url = await app.listen(port, host);
        if (!LOOPBACK.has(host)) {
          process.stderr.write(`dit: warning: listening on ${host}: anyone who can reach this machine can run jobs on it\n`);
        }
        process.stderr.write(`dit serve: ${pipeline.info.description}\n`);
        process.stdout.write(`${url}\n`);
        await serveUntil(stop.signal, () => app.close());
      } finally {
        stop.release();
        await pipeline?.dispose();
      }
    });
}
