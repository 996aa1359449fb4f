/**
 * Errors a user can cause and fix. The CLI prints `message` as one line, no stack trace, and exits
 * with `exitCode`: 2 for bad usage (a flag value, a missing file), 1 for a failure at run time.
 * Messages name the bad value, what is allowed, and how to fix it.
 *
 * User input is validated once, in options.ts; deeper layers check their callers with assert(),
 * whose InternalError is a bug in dit-ts (exit 1), never a usage error.
 */
export class DitError extends Error {
  readonly exitCode: 1 | 2;
  constructor(message: string, exitCode: 1 | 2 = 1) {
    super(message);
    this.name = 'DitError';
    this.exitCode = exitCode;
  }
}

/** A bad flag or option value, or an input file that does not exist / does not fit (exit code 2). */
export class UsageError extends DitError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/** A file whose bytes are not what its format promises (truncated, hostile, unsupported). */
export class FormatError extends DitError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'FormatError';
  }
}

/** A broken promise between parts of dit-ts: a bug, not something the user can fix. */
export class InternalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InternalError';
  }
}

/** Throws an InternalError when `condition` is false: for what options.ts has already validated. */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new InternalError(typeof message === 'string' ? message : message());
}
