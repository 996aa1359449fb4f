/**
 * `dit worker --queue redis://HOST:PORT[/DB]`: takes the chunks that `dit generate --queue` enqueued
 * (bulk/queue.ts) and writes them into the run's folder, which must be on a filesystem this machine
 * mounts at the same path as the machine that enqueued. Runs until SIGINT/SIGTERM, which finish the
 * current chunk first (a second signal, or SIGKILL, leaves it to another worker after --lock-duration).
 */
import type { Command } from 'commander';
import { resolveLoadOptions, resolveQueueOptions } from '../options.js';
import { startWorker } from '../bulk/queue.js';
import { addFlags, flag } from './flags.js';

interface WorkerFlags {
  queue?: string;
  lockDuration?: string;
  threads?: string;
  cacheDir?: string;
  cache?: boolean;
  quiet?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('worker')
    .description('take chunks of dit generate --queue runs from Redis and write their images (any number of machines sharing the output folder); stops on SIGINT/SIGTERM after the current chunk');
  addFlags(cmd, ['queue', 'lockDuration', 'threads', 'cacheDir', 'noCache']);
  cmd.addOption(flag('quiet')).action(async (flags: WorkerFlags) => {
    const options = resolveQueueOptions({ queue: flags.queue, lockDuration: flags.lockDuration });
    // Checked here, once, so that a bad value is a usage error before any job is taken.
    const load = resolveLoadOptions({ threads: flags.threads, cacheDir: flags.cacheDir, noCache: flags.cache === false });
    const log = (line: string) => {
      if (!flags.quiet) process.stderr.write(`${line}\n`);
    };
    const worker = await startWorker(options.redis, {
      threads: flags.threads,
      cacheDir: load.cacheDir,
      noCache: flags.cache === false,
      lockSeconds: options.lockSeconds,
      log,
    });
    log(`worker ${process.pid} waiting for chunks on ${options.redis.display} (lock ${options.lockSeconds} s)`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        log(`worker ${process.pid} stopping after its current chunk`);
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
    await worker.close();
  });
}
