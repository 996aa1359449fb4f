/**
 * The unfinished files of this thread: folders a compiled model is being written into (the cache's
 * `.dit-…-tmp-PID-…` folders, `--no-cache`'s `$TMPDIR/dit-ts-…`, `dit bench`'s). They are removed
 * when the process exits, and on SIGINT, SIGTERM or SIGHUP that would otherwise kill the process
 * (no other listener for it): then this thread removes them, prints one line and exits with
 * 128 + the signal's number (130 for Ctrl-C), as the shell reports a process killed by it.
 *
 * Builds yield to the event loop between tensors (graph/save.ts), so the handler runs within one
 * tensor's write. Nothing is installed while nothing is tracked: a signal at any other time keeps
 * Node's default (immediate exit). Signals reach only the main thread; a worker thread's builds
 * (dit serve) are removed by removeTemporaries() when its owner stops it, or by the next run's sweep.
 */
import { rmSync } from 'node:fs';
import { constants } from 'node:os';
import { isMainThread } from 'node:worker_threads';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
type Signal = (typeof SIGNALS)[number];

const tracked = new Set<string>();
const listeners = new Map<Signal, () => void>();
let exitHook = false;

/** Removes every tracked path now (synchronously). */
export function removeTemporaries(): void {
  for (const p of tracked) rmSync(p, { recursive: true, force: true });
  tracked.clear();
  stopListening();
}

/**
 * Tracks `p` (a file or folder being written) until the returned function is called, which
 * forgets it without removing it (it was renamed into place, or the caller removes it).
 */
export function trackTemporary(p: string): () => void {
  tracked.add(p);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => void removeTemporaries());
  }
  if (isMainThread && listeners.size === 0) {
    for (const signal of SIGNALS) {
      const listener = () => onSignal(signal);
      listeners.set(signal, listener);
      process.on(signal, listener);
    }
  }
  return () => {
    tracked.delete(p);
    if (tracked.size === 0) stopListening();
  };
}

function stopListening(): void {
  for (const [signal, listener] of listeners) process.off(signal, listener);
  listeners.clear();
}

function onSignal(signal: Signal): void {
  // Another listener (dit serve, dit worker, the embedding program) decides what the signal means;
  // the folders then go at exit, or at the next run's sweep.
  if (process.listenerCount(signal) > 1) return;
  removeTemporaries();
  process.stderr.write(`dit: interrupted by ${signal}; its unfinished model files were removed\n`);
  process.exit(128 + constants.signals[signal]);
}
