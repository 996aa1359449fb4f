/** How the CLI reports errors: a user's mistake is exit 2, a failure at run time 1, a bug 1 and says so. */
import { afterEach, describe, expect, it } from 'vitest';
import { reportError } from '../../src/cli/main.js';
import { assert, DitError, InternalError, UsageError } from '../../src/errors.js';

function report(err: unknown): { code: number; stderr: string } {
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
  try {
    return { code: reportError(err), stderr };
  } finally {
    process.stderr.write = write;
  }
}

describe('reportError', () => {
  afterEach(() => {
    delete process.env.DIT_DEBUG;
  });

  it('a usage error: its message, exit 2', () => {
    expect(report(new UsageError('--seed "x" is not a valid seed'))).toEqual({ code: 2, stderr: 'dit: --seed "x" is not a valid seed\n' });
  });

  it('a run-time failure: its message, exit 1', () => {
    expect(report(new DitError('device "cuda" is not available'))).toEqual({ code: 1, stderr: 'dit: device "cuda" is not available\n' });
  });

  it('a failed assert is a bug: one line that says so, exit 1, not 2', () => {
    let err: unknown;
    try {
      assert(false, () => 'threads 0 must be a positive integer\nsecond line');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InternalError);
    expect(err).not.toBeInstanceOf(DitError);
    expect(report(err)).toEqual({
      code: 1,
      stderr: 'dit: internal error: threads 0 must be a positive integer (this is a bug in dit-ts; please report it, with DIT_DEBUG=1 for the stack trace)\n',
    });
  });

  it('any other error is a bug too; DIT_DEBUG=1 adds the stack', () => {
    expect(report(new TypeError('x is undefined')).stderr).toBe(
      'dit: internal error: x is undefined (this is a bug in dit-ts; please report it, with DIT_DEBUG=1 for the stack trace)\n',
    );
    process.env.DIT_DEBUG = '1';
    const r = report(new TypeError('x is undefined'));
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[1]).toBe('TypeError: x is undefined');
    expect(r.stderr).toMatch(/\n\s+at /);
  });
});
