/**
 * Errors a user can cause and fix. The CLI prints `message` as one line, no stack trace, and exits
 * with `exitCode`: 2 for bad usage (a flag value, a missing file), 1 for a failure at run time.
 * Messages name the bad value, what is allowed, and how to fix it.
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
