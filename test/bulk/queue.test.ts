/**
 * dit generate --queue and dit worker on a redis-server of the test's own (loopback, temp folder):
 * three workers, one killed with SIGKILL in the middle of a chunk, give the same .npz bytes as one
 * process without a queue, and the waiting client prints the same quality lines (FD, precision/recall,
 * per-class accuracy) as that local run; enqueueing the same command again adds no job; another configuration
 * for the same output is refused; --status reports the run; an unreachable Redis and a malformed
 * URL are one line each.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { findRedisServer, freePort, startRedisServer, type RedisServer } from '../helpers/redis-server.js';
import { QUEUE_NAME } from '../../src/bulk/queue.js';
import { resolveRedisUrl } from '../../src/options.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-queue-'));
const cache = path.join(root, 'cache');
const N = 12;
const RUN = ['--num-samples', String(N), '--num-sampling-steps', '3', '--seed', '5', '--cache-dir', cache, '--threads', '1'];

const redisBinary = findRedisServer();
if (redisBinary === undefined && process.env.CI === 'true') throw new Error('redis-server is missing in CI: scripts/install-system-deps.sh installs it');
if (redisBinary === undefined) console.warn('test/bulk/queue.test.ts skipped: no redis-server on PATH (apt-get install redis-server)');

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('dit generate --queue: what is refused before any work', () => {
  it('--queue reads host, port, database and credentials, and never shows the password', () => {
    expect(resolveRedisUrl('redis://worker:s%40cret@[::1]:7000/3')).toEqual({
      host: '::1',
      port: 7000,
      db: 3,
      username: 'worker',
      password: 's@cret',
      tls: false,
      display: 'redis://[::1]:7000/3',
    });
    expect(resolveRedisUrl('rediss://cache.internal')).toMatchObject({ host: 'cache.internal', port: 6379, db: 0, tls: true, display: 'rediss://cache.internal/0' });
    expect(() => resolveRedisUrl('redis://h:6379/0?timeout=5')).toThrow('--queue "redis://h:6379/0?timeout=5" is not a Redis URL (options after ? or # are not read)');
    expect(() => resolveRedisUrl('127.0.0.1:6379')).toThrow('--queue "127.0.0.1:6379" is not a Redis URL (it does not start with redis://)');
    expect(() => resolveRedisUrl('redis://')).toThrow('is not a Redis URL (');
  });

  it('a malformed --queue URL is one line, exit 2, for generate and worker', async () => {
    const out = path.join(root, 'malformed');
    const r = await runCli(['generate', ...RUN, '--queue', 'http://127.0.0.1:6379', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('dit: --queue "http://127.0.0.1:6379" is not a Redis URL (the scheme is http, not redis or rediss): pass redis://HOST:PORT[/DB], e.g. --queue redis://127.0.0.1:6379/0\n');
    const w = await runCli(['worker', '--queue', 'redis://127.0.0.1:6379/first']);
    expect(w.code).toBe(2);
    expect(w.stderr).toBe('dit: --queue "redis://127.0.0.1:6379/first" is not a Redis URL (the database "first" is not a number): pass redis://HOST:PORT[/DB], e.g. --queue redis://127.0.0.1:6379/0\n');
    expect(fs.existsSync(out)).toBe(false);
  });

  it('an unreachable Redis is one line naming the URL, exit 1, in bounded time, and nothing is written', async () => {
    const port = await freePort();
    const out = path.join(root, 'unreachable');
    const r = await runCli(['generate', ...RUN, '--queue', `redis://127.0.0.1:${port}/2`, '--out', out, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`dit: cannot reach Redis at redis://127.0.0.1:${port}/2: connect ECONNREFUSED 127.0.0.1:${port}; start redis-server there or fix --queue\n`);
    expect(fs.existsSync(out)).toBe(false);
    const w = await runCli(['worker', '--queue', `redis://127.0.0.1:${port}`, '--quiet']);
    expect(w.code).toBe(1);
    expect(w.stderr).toBe(`dit: cannot reach Redis at redis://127.0.0.1:${port}/0: connect ECONNREFUSED 127.0.0.1:${port}; start redis-server there or fix --queue\n`);
  });
});

/** `dit worker` from source as its own process (so SIGKILL is real), with its stderr collected. */
function spawnWorker(url: string): { child: ChildProcess; log: () => string } {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "const m = await import('./src/cli/main.ts'); process.exitCode = await m.main(['node', 'dit', ...process.argv.slice(1)])",
      'worker',
      '--queue',
      url,
      '--threads',
      '1',
      '--cache-dir',
      cache,
      '--lock-duration',
      '2',
    ],
    { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (c: Buffer) => (log += c.toString()));
  return { child, log: () => log };
}

const exited = (child: ChildProcess) => new Promise<number | null>((r) => (child.exitCode !== null || child.signalCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));

describe.skipIf(redisBinary === undefined)('dit generate --queue with three dit workers', () => {
  let redis: RedisServer;
  let singleNpz: Buffer;
  /** The local run's quality lines (after the .npz path). */
  let singleQuality: string;
  const out = path.join(root, 'queued');

  beforeAll(async () => {
    redis = await startRedisServer(redisBinary!);
    const single = path.join(root, 'single');
    const r = await runCli(['generate', ...RUN, '--out', single, '--batch-size', '12', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    singleNpz = fs.readFileSync(`${single}.npz`);
    expect(r.stdout.startsWith(`${single}.npz\n`)).toBe(true);
    singleQuality = r.stdout.slice(`${single}.npz\n`.length);
    expect(singleQuality).toMatch(/^fd \d+\.\d{3} · [^\n]+\nby class, [^\n]+\n$/);
  }, 120_000);

  afterAll(async () => {
    await redis?.stop();
  });

  async function jobCount(): Promise<number> {
    const queue = new Queue(QUEUE_NAME, { connection: { host: '127.0.0.1', port: redis.port } });
    try {
      const counts = await queue.getJobCounts();
      return Object.values(counts).reduce((a, b) => a + b, 0);
    } finally {
      await queue.close();
    }
  }

  it('a worker killed mid-chunk has its chunk done by another; the .npz bytes equal one process\'s; enqueueing again adds nothing', async () => {
    const queueArgs = ['generate', ...RUN, '--queue', redis.url, '--out', out, '--chunk-size', '4', '--batch-size', '1'];
    const enqueued = await runCli([...queueArgs, '--no-wait']);
    expect(enqueued.code, enqueued.stderr).toBe(0);
    expect(enqueued.stdout).toBe(`${out}\n`);
    expect(enqueued.stderr).toMatch(/: 3 of 3 chunks enqueued \(0 were there\); start workers with dit worker --queue /);
    expect(await jobCount()).toBe(3);

    const workers = [spawnWorker(redis.url), spawnWorker(redis.url), spawnWorker(redis.url)];
    // The first worker to start a chunk is killed at once: its chunk is active, its lock held.
    const victim = await new Promise<{ index: number; chunk: string }>((resolve) => {
      const timer = setInterval(() => {
        for (const [index, w] of workers.entries()) {
          const m = /chunk (\d+-\d+) of run \w+ started/.exec(w.log());
          if (m) {
            w.child.kill('SIGKILL');
            clearInterval(timer);
            resolve({ index, chunk: m[1]! });
            return;
          }
        }
      }, 5);
    });
    expect(await exited(workers[victim.index]!.child)).toBe(null);
    expect(workers[victim.index]!.log()).not.toMatch(new RegExp(`chunk ${victim.chunk} of run \\w+ done`));

    // The same command again: no job added; it waits for the fleet and the merge, then prints DIR.npz
    // and the embedded model's quality lines, the local run's.
    const waited = await runCli([...queueArgs, '--quiet']);
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stdout).toBe(`${out}.npz\n${singleQuality}`);
    expect(fs.readFileSync(`${out}.npz`).equals(singleNpz)).toBe(true);
    expect(await jobCount()).toBe(4); // three chunks and the merge

    // The killed worker's chunk was started again, and finished, by a survivor.
    const survivors = workers.filter((_, i) => i !== victim.index);
    const redone = survivors.map((w) => w.log()).join('');
    expect(redone).toMatch(new RegExp(`chunk ${victim.chunk} of run \\w+ started[^]*chunk ${victim.chunk} of run \\w+ done`));

    const again = await runCli([...queueArgs, '--no-wait']);
    expect(again.stderr).toMatch(/: 0 of 3 chunks enqueued \(3 were there\)/);
    expect(await jobCount()).toBe(4);

    const status = await runCli(['generate', '--status', '--queue', redis.url, '--out', out]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^3/3 chunks done, 0 active, 0 waiting, 0 failed · 12/12 images · \\d+\\.\\d images/s · merge: ${out.replace(/[/.]/g, '\\$&')}\\.npz\\n$`));

    for (const w of survivors) w.child.kill('SIGTERM');
    for (const w of survivors) expect(await exited(w.child)).toBe(0);
  }, 120_000);

  it('another configuration for the same output is refused in one line, and adds no job', async () => {
    const before = await jobCount();
    const r = await runCli(['generate', ...RUN, '--seed', '6', '--queue', redis.url, '--out', out, '--chunk-size', '4', '--no-wait', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^dit: ${redis.url}/0 holds jobs for ${out} from another configuration \\([0-9a-f]{16} there, [0-9a-f]{16} now\\): run with the same flags, or choose another --out folder\\n$`));
    const chunks = await runCli(['generate', ...RUN, '--queue', redis.url, '--out', out, '--chunk-size', '6', '--no-wait', '--quiet']);
    expect(chunks.code).toBe(2);
    expect(chunks.stderr).toBe(`dit: ${redis.url}/0 holds jobs for ${out} in chunks of 4: pass --chunk-size 4 to resume that run\n`);
    expect(await jobCount()).toBe(before);
  });

  it('--status of a folder the queue does not know is one line, exit 2', async () => {
    const r = await runCli(['generate', '--status', '--queue', redis.url, '--out', path.join(root, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`dit: ${redis.url}/0 has no run for ${path.join(root, 'never')}: enqueue it with dit generate --queue … --out ${path.join(root, 'never')}\n`);
  });
});
