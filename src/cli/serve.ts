/**
 * `dit serve`: the notebook's controls as a local web page over one loaded model, with live
 * progress. Loopback only unless --host says otherwise: the server has no authentication.
 */
import type { Command } from 'commander';
import { resolveLoadOptions, resolveServeOptions, SERVE_DEFAULTS } from '../options.js';
import type { Pipeline } from '../pipeline.js';
import { checkAddress, createDitServer } from '../server/app.js';
import { createWorkerPipeline } from '../server/pipeline-proxy.js';
import { addFlags, flag, LOAD_FLAG_NAMES, loadOptionsFrom, type LoadFlags } from './flags.js';
import { createProgress } from './progress.js';

interface ServeFlags extends LoadFlags {
  port: string;
  host: string;
  maxImages: string;
  maxQueue: string;
  quiet?: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export function register(program: Command): void {
  const cmd = program.command('serve').description(`a local web page with the notebook's controls, live progress and history (default http://${SERVE_DEFAULTS.host}:${SERVE_DEFAULTS.port}/)`);
  addFlags(cmd, LOAD_FLAG_NAMES);
  cmd
    .option('--port <n>', 'TCP port (0 picks a free one)', String(SERVE_DEFAULTS.port))
    .option('--host <address>', 'address to listen on; 0.0.0.0 opens it to the network (no authentication)', SERVE_DEFAULTS.host)
    .option('--max-images <n>', 'most images per request', String(SERVE_DEFAULTS.maxImages))
    .option('--max-queue <n>', 'most jobs waiting or running at once', String(SERVE_DEFAULTS.maxQueue))
    .addOption(flag('quiet'))
    .action(async (flags: ServeFlags) => {
      const { port, host, maxImages, maxQueue } = resolveServeOptions(flags);
      const load = resolveLoadOptions(loadOptionsFrom(flags)); // bad flags fail before the model loads
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
