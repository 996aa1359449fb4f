/**
 * `dit serve`: the notebook's controls as a local web page over one loaded model, with live
 * progress. Loopback only unless --host says otherwise: the server has no authentication.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { MAX_IMAGES, resolveLoadOptions } from '../options.js';
import type { Pipeline } from '../pipeline.js';
import { SERVER_DEFAULTS, checkAddress, createDitServer } from '../server/app.js';
import { createWorkerPipeline } from '../server/pipeline-proxy.js';
import { addLoadFlags, loadOptionsFrom, type LoadFlags } from './sample.js';
import { createProgress } from './progress.js';

interface ServeFlags extends LoadFlags {
  port: string;
  host: string;
  maxImages: string;
  maxQueue: string;
  quiet?: boolean;
}

function intFlag(flag: string, value: string, lo: number, hi: number, hint: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < lo || n > hi) {
    throw new UsageError(`${flag} ${JSON.stringify(value)} is out of range: must be an integer in ${lo}..${hi}${hint}`);
  }
  return n;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export function register(program: Command): void {
  const cmd = program.command('serve').description('a local web page with the notebook\'s controls, live progress and history (default http://127.0.0.1:7860/)');
  addLoadFlags(cmd);
  cmd
    .option('--port <n>', 'TCP port (0 picks a free one)', '7860')
    .option('--host <address>', 'address to listen on; 0.0.0.0 opens it to the network (no authentication)', '127.0.0.1')
    .option('--max-images <n>', 'most images per request', String(SERVER_DEFAULTS.maxImages))
    .option('--max-queue <n>', 'most jobs waiting or running at once', String(SERVER_DEFAULTS.maxQueue))
    .option('--quiet', 'no progress output while loading, no line per job')
    .action(async (flags: ServeFlags) => {
      const port = intFlag('--port', flags.port, 0, 65535, ' (0 picks a free port)');
      const maxImages = intFlag('--max-images', flags.maxImages, 1, MAX_IMAGES, ' (images per request)');
      const maxQueue = intFlag('--max-queue', flags.maxQueue, 1, 1000, ' (jobs waiting or running)');
      const host = flags.host.trim();
      if (host === '') throw new UsageError('--host is empty: pass an address such as 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)');
      const load = loadOptionsFrom(flags);
      resolveLoadOptions(load); // bad flags fail before the model loads
      await checkAddress(port, host);

      const progress = createProgress({ quiet: flags.quiet ?? false });
      let pipeline: Pipeline | undefined;
      try {
        // In a worker thread, so the page and the API answer while a step runs.
        pipeline = await createWorkerPipeline(load, { onPhase: (p) => progress.phase(p) });
        progress.done();
        const log = flags.quiet ? undefined : (line: string) => process.stderr.write(`dit serve: ${line}\n`);
        const app = createDitServer({ pipeline, maxImages, maxQueue, log });
        const url = await app.listen(port, host);
        if (!LOOPBACK.has(host)) {
          process.stderr.write(`dit: warning: listening on ${host}: anyone who can reach this machine can run jobs on it\n`);
        }
        process.stderr.write(`dit serve: ${pipeline.info.description}\n`);
        process.stdout.write(`${url}\n`);
        await new Promise<void>((resolve) => {
          const stop = () => {
            process.off('SIGINT', stop);
            process.off('SIGTERM', stop);
            process.stderr.write('dit serve: stopping\n');
            app.close().then(resolve, resolve);
          };
          process.on('SIGINT', stop);
          process.on('SIGTERM', stop);
        });
      } finally {
        await pipeline?.dispose();
      }
    });
}
