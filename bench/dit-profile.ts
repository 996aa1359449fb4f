/**
 * Where a DiT forward spends its time: ONNX Runtime's per-node profile, summed by op type.
 *
 *   npx tsx bench/dit-profile.ts [--model DiT-XL/2] [--image-size 256] [--batch 2] [--attention fused|plain] [--linear gemm|matmul]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { saveModel } from '../src/graph/index.js';
import { buildDiTGraph, ditConfigFor, type DiTVariantName } from '../src/models/dit.js';
import { randomDiTWeights } from '../src/runtime/bench.js';
import { createSession } from '../src/runtime/index.js';
import { arg } from './args.js';

const model = arg('--model', 'DiT-XL/2') as DiTVariantName;
const batch = Number(arg('--batch', '2'));
const config = ditConfigFor(model, { input_size: Number(arg('--image-size', '256')) / 8 });
const dir = mkdtempSync(path.join(tmpdir(), 'dit-profile-'));
try {
  const graph = buildDiTGraph(config, randomDiTWeights(config), {
    attention: arg('--attention', 'fused') as 'fused' | 'plain',
    linear: arg('--linear', 'gemm') as 'gemm' | 'matmul',
  });
  const modelPath = (await saveModel(graph, path.join(dir, 'model.onnx'))).modelPath;
  const s = await createSession(modelPath, { threads: Number(arg('--threads', '2')), profileFilePrefix: path.join(dir, 'profile') });
  const S = config.input_size;
  const feeds = {
    x: { type: 'float32' as const, data: new Float32Array(batch * config.in_channels * S * S).fill(0.1), dims: [batch, config.in_channels, S, S] },
    t: { type: 'float32' as const, data: Float32Array.from({ length: batch }, () => 500), dims: [batch] },
    y: { type: 'int64' as const, data: BigInt64Array.from({ length: batch }, () => 1n), dims: [batch] },
  };
  const runs = Number(arg('--runs', '3'));
  for (let i = 0; i < runs + 1; i++) await s.run(feeds);
  s.endProfiling();
  await s.release();
  const file = readdirSync(dir).find((f) => f.startsWith('profile'))!;
  const events = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Array<{ cat: string; name: string; dur: number; args?: { op_name?: string } }>;
  const byOp = new Map<string, { us: number; count: number }>();
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = e.args?.op_name ?? '?';
    const v = byOp.get(op) ?? { us: 0, count: 0 };
    v.us += e.dur;
    v.count++;
    byOp.set(op, v);
    total += e.dur;
  }
  // The first run is a warm-up; all kernel times are averaged over all runs (warm-up included).
  const perRun = (us: number) => us / (runs + 1) / 1e3;
  console.log(`${model} batch ${batch}: kernel time per forward ${perRun(total).toFixed(0)} ms`);
  for (const [op, v] of [...byOp].sort((a, b) => b[1].us - a[1].us)) {
    console.log(`${op.padEnd(28)} ${perRun(v.us).toFixed(1).padStart(8)} ms  ${((100 * v.us) / total).toFixed(1).padStart(5)} %  ×${v.count / (runs + 1)}`);
  }
  console.log(JSON.stringify({ model, batch, ms_per_forward: perRun(total), by_op: Object.fromEntries([...byOp].map(([k, v]) => [k, perRun(v.us)])) }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
