/**
 * Progress for the terminal: a bar redrawn in place on a TTY (step i/N, it/s, ETA), plain lines
 * at most once a second otherwise (logs, CI), nothing with --quiet. Always on stderr, so stdout
 * carries only results.
 */
export interface Progress {
  phase(name: string): void;
  step(label: string, i: number, n: number): void;
  bytes(file: string, received: number, total: number | undefined): void;
  /** A free-form status line (redrawn in place on a TTY); `final` ends the line. */
  status(text: string, final?: boolean): void;
  done(): void;
}

export function createProgress(opts: { quiet: boolean; stream?: NodeJS.WriteStream }): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  let startedAt: number | undefined;
  let lastLine = 0;
  let open = false;

  const write = (line: string, final = false) => {
    if (opts.quiet) return;
    const now = Date.now();
    if (tty) {
      stream.write(`\r\x1b[2K${line}`);
      open = true;
      if (final) {
        stream.write('\n');
        open = false;
      }
    } else if (final || now - lastLine >= 1000) {
      stream.write(`${line}\n`);
      lastLine = now;
    }
  };

  return {
    phase(name) {
      if (open) this.done();
      write(name, true);
    },
    step(label, i, n) {
      if (i <= 1 || startedAt === undefined) startedAt = Date.now();
      const elapsed = (Date.now() - startedAt) / 1000;
      const rate = i > 1 && elapsed > 0 ? (i - 1) / elapsed : 0;
      const eta = rate > 0 ? (n - i) / rate : NaN;
      const width = 24;
      const filled = Math.round((width * i) / n);
      const bar = tty ? `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` : '';
      write(
        `${label} ${bar}${i}/${n}${rate > 0 ? ` ${rate.toFixed(2)} it/s` : ''}${Number.isFinite(eta) ? ` ETA ${formatSeconds(eta)}` : ''}`,
        i === n,
      );
    },
    bytes(file, received, total) {
      const mb = (x: number) => (x / 1e6).toFixed(1);
      const pct = total ? ` ${((100 * received) / total).toFixed(1)}%` : '';
      write(`${file}: ${mb(received)}${total ? `/${mb(total)}` : ''} MB${pct}`, total !== undefined && received === total);
    },
    status(text, final = false) {
      write(text, final);
    },
    done() {
      if (tty && open && !opts.quiet) stream.write('\n');
      open = false;
      startedAt = undefined;
    },
  };
}

export function formatSeconds(s: number): string {
  // Short steps in milliseconds: "0.0 s/step" says nothing.
  if (s > 0 && s < 0.1) return `${s < 0.01 ? (s * 1000).toFixed(1) : Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}
