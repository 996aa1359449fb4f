import { describe, expect, it, vi } from 'vitest';
import { createProgress, formatSeconds } from '../../src/cli/progress.js';

function fakeStream(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, write: (s: string) => (chunks.push(s), true) } as unknown as NodeJS.WriteStream };
}

describe('progress output', () => {
  it('prints plain lines when not a terminal: phases, then at most one line a second, and the last step', () => {
    vi.useFakeTimers();
    vi.setSystemTime(0);
    const { chunks, stream } = fakeStream(false);
    const p = createProgress({ quiet: false, stream });
    p.phase('loading checkpoint');
    p.step('sampling', 1, 4);
    vi.setSystemTime(500);
    p.step('sampling', 2, 4); // within the second: not printed
    vi.setSystemTime(2000);
    p.step('sampling', 3, 4);
    p.step('sampling', 4, 4);
    vi.useRealTimers();
    expect(chunks).toEqual([
      'loading checkpoint\n',
      'sampling 3/4 1.00 it/s ETA 1.0 s\n',
      'sampling 4/4 1.50 it/s ETA 0.0 s\n',
    ]);
  });

  it('redraws one line with a bar on a terminal, and prints nothing with --quiet', () => {
    const tty = fakeStream(true);
    const p = createProgress({ quiet: false, stream: tty.stream });
    p.step('sampling', 2, 4);
    expect(tty.chunks[0]).toMatch(/^\r\x1b\[2Ksampling \[#{12}\.{12}\] 2\/4/);
    const quiet = fakeStream(true);
    const q = createProgress({ quiet: true, stream: quiet.stream });
    q.phase('x');
    q.step('sampling', 1, 2);
    q.done();
    expect(quiet.chunks).toEqual([]);
  });

  it('formats seconds and minutes', () => {
    expect(formatSeconds(7.04)).toBe('7.0 s');
    expect(formatSeconds(0.1)).toBe('0.1 s');
    expect(formatSeconds(0.0312)).toBe('31 ms');
    expect(formatSeconds(0.00456)).toBe('4.6 ms');
    expect(formatSeconds(68.4)).toBe('1 min 8 s');
  });
});
