/**
 * The `dit` command: a thin layer that turns flags into options, calls the library, and turns a
 * DitError into one line on stderr and an exit code (2 usage, 1 runtime). No stack traces for
 * errors a user can fix; any other error is a bug and says so (exit 1).
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { DitError } from '../errors.js';
import { commands } from './commands.js';

export async function main(argv: readonly string[]): Promise<number> {
  printDitWarnings();
  const program = new Command('dit')
    .description('Class-conditional image generation with Diffusion Transformers (DiT), on ONNX Runtime')
    .version((createRequire(import.meta.url)('../../package.json') as { version: string }).version)
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(s) })
    .showHelpAfterError('(run with --help for usage)');
  for (const register of commands) register(program);
  try {
    await program.parseAsync(argv as string[]);
    return 0;
  } catch (err) {
    return reportError(err);
  }
}

/**
 * The library's own warnings (process.emitWarning with a 'Dit…' name, e.g. a software WebGPU
 * adapter, a damaged cache entry) as one `dit: warning: …` line; Node's other warnings as Node
 * prints them.
 */
let warningsRouted = false;
function printDitWarnings(): void {
  if (warningsRouted) return;
  warningsRouted = true;
  const node = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (w.name.startsWith('Dit')) process.stderr.write(`dit: warning: ${w.message}\n`);
    else for (const f of node) f(w);
  });
}

export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // commander has already printed its message (help and version exit with code 0).
    return err.exitCode === 0 ? 0 : 2;
  }
  if (err instanceof DitError) {
    process.stderr.write(`dit: ${err.message}\n`);
    return err.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.path === 'string') {
    // File-system errors a user can fix (EACCES, ENOENT, ENOSPC...): one line, no stack.
    process.stderr.write(`dit: ${e.code} on ${e.path}: ${e.message}\n`);
    return 1;
  }
  // Anything else (an InternalError from assert() included) is a bug: one line that says so, exit 1;
  // the stack only on request, for the bug report.
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`dit: internal error: ${message.split('\n')[0]} (this is a bug in dit-ts; please report it, with DIT_DEBUG=1 for the stack trace)\n`);
  if (process.env.DIT_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return 1;
}
