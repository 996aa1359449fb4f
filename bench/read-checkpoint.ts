/**
 * Checkpoint reading benchmark: writes a random DiT-XL/2 (256, float32, 675M parameters) as
 * .safetensors and as a torch.save-style .pt, then reads every tensor in a child process per format
 * and mode, so the writer's memory does not pollute the figure. Reports peak RSS / file size
 * (target < 1.3× when every tensor is kept in memory, as a model builder holding the weights would).
 *
 *   npx tsx bench/read-checkpoint.ts [--model DiT-XL/2] [--dtype F32|F16] [--keep-files]
 *
 * Prints a table, then one JSON line.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDiTCheckpoint } from '../src/checkpoint/index.js';
import { ditConfigFor, type DiTVariantName } from '../src/models/dit-config.js';
import { syntheticDiT, writeSafetensors, writeSyntheticTorch } from '../test/helpers/checkpoint-writers.js';
import { arg } from './args.js';

interface ChildResult {
  format: string;
  mode: 'keep' | 'stream';
  fileBytes: number;
  baselineRssBytes: number;
  peakRssBytes: number;
  seconds: number;
  tensors: number;
  parameterCount: number;
  variant: string | null;
  checksum: number; // sum of each tensor's last value: proves the data was read
}


/** Child: load, read every tensor (keeping them or not), report peak RSS. */
function child(file: string, mode: 'keep' | 'stream'): void {
  const baselineRssBytes = process.resourceUsage().maxRSS * 1024;
  const t0 = performance.now();
  const ckpt = loadDiTCheckpoint(file);
  const kept: Float32Array[] = [];
  let checksum = 0;
  for (const t of ckpt.weights.tensors.values()) {
    const data = t.toFloat32();
    checksum += data[data.length - 1]!;
    if (mode === 'keep') kept.push(data);
  }
  const seconds = (performance.now() - t0) / 1000;
  ckpt.weights.close();
  const result: ChildResult = {
    format: ckpt.format,
    mode,
    fileBytes: fs.statSync(file).size,
    baselineRssBytes,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    seconds,
    tensors: ckpt.weights.tensors.size,
    parameterCount: ckpt.parameterCount,
    variant: ckpt.variant ?? null,
    checksum,
  };
  kept.length = 0;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function parent(): void {
  const model = arg('--model', 'DiT-XL/2') as DiTVariantName;
  const dtype = arg('--dtype', 'F32') as 'F32' | 'F16';
  const config = ditConfigFor(model);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dit-read-bench-'));
  const self = fileURLToPath(import.meta.url);
  const rows: Array<ChildResult & { writeSeconds: number }> = [];
  try {
    for (const format of ['safetensors', 'pt'] as const) {
      const file = path.join(dir, `${model.replace('/', '-')}.${format}`);
      const t0 = performance.now();
      const tensors = syntheticDiT(config, dtype, 1);
      if (format === 'safetensors') writeSafetensors(file, tensors);
      else writeSyntheticTorch(file, tensors);
      const writeSeconds = (performance.now() - t0) / 1000;
      for (const mode of ['keep', 'stream'] as const) {
        const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', file, mode], { encoding: 'utf-8', maxBuffer: 1 << 20 });
        rows.push({ ...(JSON.parse(out.trim().split('\n').pop()!) as ChildResult), writeSeconds });
      }
      fs.rmSync(file, { force: true });
    }
  } finally {
    if (!process.argv.includes('--keep-files')) fs.rmSync(dir, { recursive: true, force: true });
  }
  const gb = (b: number): string => (b / 2 ** 30).toFixed(2);
  console.log(`${model} ${dtype}, random weights; ${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)} (other jobs share this machine)`);
  console.log('format       mode    file GiB  baseline GiB  peak RSS GiB  peak/file  read s  MB/s   write s  params       variant');
  for (const r of rows) {
    console.log(
      [
        r.format.padEnd(12),
        r.mode.padEnd(7),
        gb(r.fileBytes).padStart(8),
        gb(r.baselineRssBytes).padStart(13),
        gb(r.peakRssBytes).padStart(13),
        (r.peakRssBytes / r.fileBytes).toFixed(3).padStart(10),
        r.seconds.toFixed(1).padStart(7),
        (r.fileBytes / r.seconds / 1e6).toFixed(0).padStart(6),
        r.writeSeconds.toFixed(1).padStart(8),
        String(r.parameterCount).padStart(12),
        ` ${r.variant}`,
      ].join(' '),
    );
  }
  const ok = rows.every((r) => r.variant === model && r.parameterCount === (model === 'DiT-XL/2' ? 675_129_632 : r.parameterCount));
  console.log(
    JSON.stringify({
      bench: 'read-checkpoint',
      model,
      dtype,
      inspectedCorrectly: ok,
      loadAverage: os.loadavg()[0],
      results: rows.map((r) => ({ ...r, peakOverFile: r.peakRssBytes / r.fileBytes })),
    }),
  );
  if (!ok) process.exitCode = 1;
}

const ci = process.argv.indexOf('--child');
if (ci >= 0) child(process.argv[ci + 1]!, process.argv[ci + 2] as 'keep' | 'stream');
else parent();
