/**
 * Ships new weights for the embedded Fashion-MNIST model in one command: every file and number that
 * can be regenerated from the weights is, from one source, with the previous model scored on the same
 * seeds beside it.
 *
 *   nice npx tsx scripts/ship-embedded.ts SOURCE [--samples 2000] [--cfg 1,1.5,2,3,4,6,10]
 *        [--steps 25] [--interval 82,579] [--ema E] [--work DIR] [--old DIR] [--max-sample-s 5]
 *        [--timing-runs 3] [--force]
 *
 * SOURCE: a train.py checkpoint (`last.pt`), fp16 weights from training/gpu_round.py (`C.safetensors`,
 * or its parts `C.safetensors.00`, `.01`, joined here), or an exported `model.safetensors` with its
 * `config.json` beside it (export.py then keeps the file's bytes: see training/README.md, "Shipping
 * new weights").
 *
 * In order (cheap checks first; the tree changes from step 3 on, and a failure or Ctrl-C puts it back):
 *  1. `tsc` (the CLI runs from dist/); the tracked files it rewrites must equal HEAD (else --force).
 *  2. training/export.py --dtype q8 into a copy of assets/fashion-mnist in the work folder: model.safetensors,
 *     config.json, classes.json, reference/ (PyTorch forward and 10-step sample from the fp16 file).
 *  3. Limits: weights ≤ 20 MB; `dit sample` with no flags ≤ --max-sample-s wall, or no slower than the
 *     previous model where that is over it already (median of
 *     --timing-runs after one cold run that fills the compile cache), the previous model timed the
 *     same way just before, so that a busy machine shows in both (then rerun when it is idle).
 *  4. The new files go into assets/fashion-mnist (from here on, any failure puts the previous
 *     files back and says so); test/embedded.test.ts checks them against their PyTorch reference.
 *  5. docs/sample.png (the timed runs' output, the same bytes each time) and docs/sample-x4.png
 *     (nearest-neighbour ×4), the README's `dit sweep` (its command is read from README.md), and
 *     bench/generate-fd.ts for the new and the previous model (same seeds): --cfg, then CFG 4 with
 *     guidance only on --interval.
 *  6. docs/embedded-model.md: the README's tables (FD, per class, sweep), old against new, issue 19's
 *     targets, the timing, and a checklist of what cannot be automated. Then the docs are moved into
 *     place (sample PNGs, docs/sweep, docs/embedded-model.md) and each shipped file is compared with
 *     the one it replaced (identical, or how it differs).
 *
 * The work folder (default: a new /tmp/ship-embedded-*) keeps everything; give the same --work to
 * rerun: the sweep and the FD folders resume where they stopped.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMBEDDED_DEFAULTS } from '../src/pipeline-core.js';
import { TRAIN_TIMESTEPS } from '../src/diffusion/schedule.js';
import { encodePng, readPng } from '../src/image/png.js';
import { upscaleNearest } from '../src/image/scale.js';
import { arg } from '../bench/args.js';
import { comparisonTable, fdTable, issue19Targets, perClassTable, scaleRows, sweepTable, targetsTable, type FdRun, type SweepReport } from './ship-summary.js';
import { median } from '../src/runtime/bench.js';
import { readSafetensors } from '../src/checkpoint/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ASSETS = path.join(ROOT, 'assets', 'fashion-mnist');
const DOCS = path.join(ROOT, 'docs');
/** Issue 19's limits. */
const MAX_WEIGHT_BYTES = 20e6;
/**
 * The shipped weights' form (training/export.py --dtype): q8, linear weights as int8 per output row
 * with fp16 scales (0.5 % from the fp16 weights on the reference forward): 9.9 MB for architecture C
 * against 19.5 MB in fp16, which keeps the site's payload within its 15 MB (issue 16) and the tree
 * small enough for a device call to carry the Fashion-MNIST files (training) or the GPU kit beside it.
 */
const SHIPPED_DTYPE = 'q8';
const PYTHON = process.env.DIT_PYTHON_TRAIN ?? '/usr/bin/python3';
/** What this script rewrites in the tree (relative to the root). */
const SHIPPED_DOCS = ['docs/sample.png', 'docs/sample-x4.png', 'docs/sweep', 'docs/embedded-model.md'];
const X4 = 4;

const flags = new Set(['--samples', '--cfg', '--steps', '--interval', '--ema', '--work', '--old', '--max-sample-s', '--timing-runs']);
const positional = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !flags.has(all[i - 1] ?? ''));
if (positional.length !== 1) {
  console.error(`usage: npx tsx scripts/ship-embedded.ts SOURCE [--samples 2000] [--cfg 1,1.5,2,3,4,6,10] [--steps 25] [--interval ${EMBEDDED_DEFAULTS.guidanceInterval.join(',')}] [--ema E] [--work DIR] [--old DIR] [--max-sample-s 5] [--timing-runs 3] [--force]`);
  process.exit(2);
}
const source = path.resolve(positional[0]!);
const samples = arg('--samples', '2000');
const cfgs = arg('--cfg', '1,1.5,2,3,4,6,10');
const steps = arg('--steps', '25');
const interval = arg('--interval', EMBEDDED_DEFAULTS.guidanceInterval.join(','));
// The scale rows guide at every step, said explicitly: generate-fd on the embedded model (the
// command the record prints) would otherwise take its default interval.
const EVERY_STEP = `0,${TRAIN_TIMESTEPS - 1}`;
const ema = arg('--ema', '');
const maxSampleS = Number(arg('--max-sample-s', '5'));
const timingRuns = Number(arg('--timing-runs', '3'));
const force = process.argv.includes('--force');
const work = path.resolve(arg('--work', '') || fs.mkdtempSync(path.join(os.tmpdir(), 'ship-embedded-')));
const startedAt = new Date();
// Every `dit` and bench run below compiles into the work folder, not the user's cache.
process.env.DIT_CACHE_DIR = path.join(work, 'cache');

function log(line: string): void {
  console.log(`ship: ${line}`);
}

/** Runs a command, its output shown; throws (naming it) unless it exits 0. */
function run(cmd: string, args: readonly string[], opts: SpawnSyncOptions = {}): void {
  log(`$ ${[cmd, ...args].join(' ')}${opts.cwd ? `   (in ${path.relative(ROOT, String(opts.cwd)) || '.'})` : ''}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: ROOT, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} ${r.signal ? `was stopped by ${r.signal}` : `exited ${r.status}`}`);
}

function git(...args: string[]): string {
  return spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout;
}

function replaceDir(from: string, to: string): void {
  fs.rmSync(to, { recursive: true, force: true });
  // Timestamps kept: the compiled-model cache knows a weights file by path, size and mtime.
  fs.cpSync(from, to, { recursive: true, preserveTimestamps: true });
}

/** Number of parameters (int8 rows count once, their scales not) and bytes of a safetensors file, read as dit does. */
function weightFacts(file: string): { params: number; bytes: number; tensors: number } {
  const sd = readSafetensors(file);
  try {
    const shapes = [...sd.tensors.values()].map((t) => t.shape);
    return { params: shapes.reduce((a, shape) => a + shape.reduce((x, y) => x * y, 1), 0), bytes: fs.statSync(file).size, tensors: shapes.length };
  } finally {
    sd.close();
  }
}

/** SOURCE, copied into the work folder (parts joined), with a config.json that sits beside it. */
function stageSource(): string {
  const dir = path.join(work, 'source');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const partsOf = source.replace(/\.00$/, '');
  const parts = fs.existsSync(source) && !/\.00$/.test(source) ? [] : fs.readdirSync(path.dirname(partsOf)).filter((f) => f.startsWith(`${path.basename(partsOf)}.`) && /\.\d\d$/.test(f)).sort();
  const target = path.join(dir, path.basename(partsOf));
  if (parts.length > 0) {
    fs.writeFileSync(target, Buffer.concat(parts.map((p) => fs.readFileSync(path.join(path.dirname(partsOf), p)))));
    log(`joined ${parts.join(' + ')} → ${target}`);
  } else if (fs.existsSync(source)) {
    fs.copyFileSync(source, target);
  } else {
    throw new Error(`${source} does not exist (nor its parts ${source}.00, .01, …)`);
  }
  const config = path.join(path.dirname(partsOf), 'config.json');
  if (target.endsWith('.safetensors') && fs.existsSync(config)) fs.copyFileSync(config, path.join(dir, 'config.json'));
  return target;
}

interface Timing {
  readonly model: string;
  readonly seconds: number[];
  cold: number;
}

/**
 * `dit sample` with no flags, as a user runs it: the previous and then the new model take the place
 * of assets/fashion-mnist (the previous one is put back after), each with one cold run (it compiles
 * the graph into the cache; the cache keeps one entry per weights path, so the models cannot
 * alternate run by run without every run being cold) and --timing-runs warm ones.
 * Returns the timings and the new model's PNG (every run must give the same bytes).
 */
function timeSample(prev: string, next: string): { timings: Timing[]; png: Buffer } {
  const out = path.join(work, 'timing');
  fs.mkdirSync(out, { recursive: true });
  const timings: Timing[] = [];
  const pngs: Buffer[] = [];
  for (const m of [{ model: 'previous', dir: prev }, { model: 'new', dir: next }]) {
    replaceDir(m.dir, ASSETS);
    const t: Timing = { model: m.model, seconds: [], cold: 0 };
    for (let round = 0; round <= timingRuns; round++) {
      const png = path.join(out, `${m.model}-${round}.png`);
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'dit.js'), 'sample', '--quiet', '--out', png], { cwd: out, encoding: 'utf8' });
      const s = (performance.now() - t0) / 1000;
      if (r.status !== 0) throw new Error(`dit sample (${m.model} model) ${r.signal ? `was stopped by ${r.signal}` : `exited ${r.status}: ${r.stderr.trim()}`}`);
      if (round === 0) t.cold = s;
      else t.seconds.push(s);
      if (m.model === 'new') pngs.push(fs.readFileSync(png));
      log(`dit sample, ${m.model} model, ${round === 0 ? 'cold (compiles into the cache)' : `run ${round}`}: ${s.toFixed(2)} s (load average ${os.loadavg()[0]!.toFixed(2)})`);
    }
    timings.push(t);
  }
  replaceDir(assetsBefore, ASSETS);
  if (pngs.some((p) => !p.equals(pngs[0]!))) throw new Error(`dit sample gave different bytes on different runs (${out}/new-*.png): the sample is not deterministic`);
  return { timings, png: pngs[0]! };
}

/** bench/generate-fd.ts on one model folder: the --cfg scales, then CFG 4 with the interval. */
function scoreModel(which: string, dir: string): FdRun[] {
  const runs: FdRun[] = [];
  const sets: { cfg: string; interval: string; json: string }[] = [{ cfg: cfgs, interval: EVERY_STEP, json: which }, ...(interval ? [{ cfg: '4', interval, json: `${which}-interval` }] : [])];
  for (const set of sets) {
    const json = path.join(work, 'fd', `${set.json}.json`);
    const args = ['tsx', 'bench/generate-fd.ts', '--ckpt', dir, '--cfg', set.cfg, '--num-samples', samples, '--steps', steps, '--guidance-interval', set.interval, '--out', path.join(work, 'fd', which), '--json', json];
    run('npx', args);
    runs.push(JSON.parse(fs.readFileSync(json, 'utf8')) as FdRun);
  }
  return runs;
}

/** The README's `dit sweep … --out docs/sweep` command, as arguments (the README is its one source). */
function readmeSweepArgs(): string[] {
  const m = /^npx dit sweep (.+) --out docs\/sweep$/m.exec(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  if (!m) throw new Error('README.md has no line "npx dit sweep … --out docs/sweep": the sweep to regenerate is read from there');
  return m[1]!.split(/\s+/);
}

/** How a shipped file compares with the one it replaced: identical, or what changed. */
function compareFile(before: string, after: string): string {
  if (!fs.existsSync(before)) return 'new';
  if (!fs.existsSync(after)) return 'removed';
  return fs.readFileSync(before).equals(fs.readFileSync(after)) ? 'identical' : `changed (${fs.statSync(before).size} → ${fs.statSync(after).size} bytes)`;
}

/** compareFile for every file under two folders (or two files), as table rows named by `rel`. */
function compareShipped(before: string, after: string, rel: string): string[] {
  const files = (p: string) => (!fs.existsSync(p) ? [] : fs.statSync(p).isFile() ? [''] : (fs.readdirSync(p, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(p, f)).isFile()));
  const names = [...new Set([...files(before), ...files(after)])].sort();
  return names.map((name) => `| ${path.join(rel, name)} | ${compareFile(path.join(before, name), path.join(after, name))} |`);
}

// ---------------------------------------------------------------------------------------------
const previous = path.join(work, 'previous');
const assetsBefore = path.join(work, 'assets-before');
const staged = path.join(work, 'new');
const docsOut = path.join(work, 'docs');
const docsBefore = path.join(work, 'docs-before');
let installed = false;
let docsMoving = false;
process.on('SIGINT', () => log('interrupted: stopping after the current step'));
try {
  log(`work folder ${work}`);
  fs.mkdirSync(work, { recursive: true });
  const dirty = git('status', '--porcelain', '--', 'assets/fashion-mnist', ...SHIPPED_DOCS).trim();
  if (dirty && !force) throw new Error(`these files differ from HEAD (commit or restore them, or pass --force):\n${dirty}`);
  run('npx', ['tsc', '-p', 'tsconfig.build.json']);

  // 1–2: the previous model and the export.
  replaceDir(ASSETS, assetsBefore);
  replaceDir(arg('--old', '') ? path.resolve(arg('--old', '')) : ASSETS, previous);
  const input = stageSource();
  replaceDir(ASSETS, staged); // the classifier, FD statistics and the manifest's classifier entry stay
  run(PYTHON, ['export.py', '--ckpt', input, '--out', staged, '--dtype', SHIPPED_DTYPE, ...(ema ? ['--ema', ema] : [])], { cwd: path.join(ROOT, 'training') });
  const facts = weightFacts(path.join(staged, 'model.safetensors'));
  const prevFacts = weightFacts(path.join(previous, 'model.safetensors'));
  log(`weights: ${facts.tensors} tensors, ${facts.params.toLocaleString('en')} parameters, ${facts.bytes.toLocaleString('en')} bytes (limit ${MAX_WEIGHT_BYTES.toLocaleString('en')})`);
  if (facts.bytes > MAX_WEIGHT_BYTES) throw new Error(`model.safetensors is ${facts.bytes} bytes, over the ${MAX_WEIGHT_BYTES} limit (issue 19)`);

  // 3: the time of `dit sample` (this swaps the model in and out of assets/, so it counts as installed).
  installed = true;
  const { timings, png } = timeSample(previous, staged);
  const [tPrev, tNew] = timings.map((t) => ({ ...t, median: median(t.seconds) }));
  const timingLoad = os.loadavg()[0]!.toFixed(2);
  log(`dit sample with no flags, median of ${timingRuns}: new ${tNew!.median.toFixed(2)} s [${tNew!.seconds.map((s) => s.toFixed(2)).join(', ')}], previous ${tPrev!.median.toFixed(2)} s [${tPrev!.seconds.map((s) => s.toFixed(2)).join(', ')}]; limit ${maxSampleS} s; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} CPUs`);
  // Issue 19's limit is 5 s on the machine it was set on (AVX-512/AMX, where today's model takes about
  // 2 s); on a slower CPU (the AVX2 EPYC: 5.5-6.1 s idle) the new model may take as long as the old.
  if (tNew!.median > Math.max(maxSampleS, tPrev!.median)) {
    throw new Error(`dit sample with no flags took ${tNew!.median.toFixed(2)} s (median of ${tNew!.seconds.map((s) => s.toFixed(2)).join(', ')}) with the new model, over the ${maxSampleS} s limit and over the previous model's ${tPrev!.median.toFixed(2)} s in the same runs. If the previous model is well over its usual time too, the machine is busy: rerun when it is idle (uptime)`);
  }

  // 4: install, and the PyTorch references.
  replaceDir(staged, ASSETS);
  run('npx', ['vitest', 'run', 'test/embedded.test.ts']);

  // 5: docs into the work folder.
  fs.mkdirSync(docsOut, { recursive: true });
  fs.writeFileSync(path.join(docsOut, 'sample.png'), png);
  fs.writeFileSync(path.join(docsOut, 'sample-x4.png'), encodePng(upscaleNearest(readPng(path.join(docsOut, 'sample.png')), X4)));
  const sweepArgs = readmeSweepArgs();
  run(process.execPath, [path.join(ROOT, 'bin', 'dit.js'), 'sweep', ...sweepArgs, '--out', path.join(docsOut, 'sweep')]);
  const sweepLoad = os.loadavg()[0]!.toFixed(2);
  const fdNew = scoreModel('new', ASSETS);
  const fdPrev = scoreModel('previous', previous);

  // 6: the summary.
  const next = scaleRows(fdNew);
  const prev = scaleRows(fdPrev);
  const config = JSON.parse(fs.readFileSync(path.join(ASSETS, 'config.json'), 'utf8')) as Record<string, unknown>;
  const report = JSON.parse(fs.readFileSync(path.join(docsOut, 'sweep', 'report.json'), 'utf8')) as SweepReport;
  const run0 = fdNew[0]!;
  const d = EMBEDDED_DEFAULTS;
  const mb = (b: number) => (b / 1e6).toFixed(1);
  const oldFigures = [`${mb(prevFacts.bytes)} MB`, `${(prevFacts.params / 1e6).toFixed(1)} M`, `${(prevFacts.params / 1e6).toFixed(2)} M`];
  const mentions = ['README.md', 'training/README.md', 'web/README.md'].filter((f) => fs.existsSync(path.join(ROOT, f))).flatMap((f) =>
    fs.readFileSync(path.join(ROOT, f), 'utf8').split('\n').flatMap((line, i) => (oldFigures.some((s) => line.includes(s)) ? [`${f}:${i + 1}`] : [])),
  );
  const cmd = `npx tsx scripts/ship-embedded.ts ${path.relative(ROOT, source) || source} --samples ${samples} --cfg ${cfgs} --steps ${steps}${interval ? ` --interval ${interval}` : ''}${ema ? ` --ema ${ema}` : ''}`;
  const md = `# The embedded model as shipped

Written by \`scripts/ship-embedded.ts\` on ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC (${os.cpus()[0]?.model ?? 'CPU'}, ${os.cpus().length} CPUs, Node ${process.versions.node}), from
\`${path.basename(source)}\`:

\`\`\`sh
${cmd}
\`\`\`

Every table below is generated; copy them into README.md (see the checklist at the end). The whole
run took ${((Date.now() - startedAt.getTime()) / 60000).toFixed(0)} min.

## Weights

| | previous | new |
| --- | --- | --- |
| parameters | ${prevFacts.params.toLocaleString('en')} | ${facts.params.toLocaleString('en')} |
| model.safetensors (previous: fp16; new: ${SHIPPED_DTYPE}) | ${prevFacts.bytes.toLocaleString('en')} bytes | ${facts.bytes.toLocaleString('en')} bytes (limit ${MAX_WEIGHT_BYTES.toLocaleString('en')}) |
| \`dit sample\`, no flags (${d.labels.length} images, CFG ${d.cfgScale}, ${d.numSamplingSteps} ${d.sampler.toUpperCase()} steps), median of ${timingRuns}, wall s | ${tPrev!.median.toFixed(2)} (${tPrev!.seconds.map((s) => s.toFixed(2)).join(', ')}) | ${tNew!.median.toFixed(2)} (${tNew!.seconds.map((s) => s.toFixed(2)).join(', ')}); limit ${maxSampleS} s, or the previous model's time |

The previous model, then the new one, each after a cold run that fills the compile cache, in this run (load average ${timingLoad}).
config.json: \`${JSON.stringify(config)}\`

## FD against guidance (README: "FD against guidance on the embedded model")

\`npx tsx bench/generate-fd.ts --cfg ${cfgs} --num-samples ${samples} --steps ${steps} --guidance-interval ${EVERY_STEP}\`${interval ? ` and \`--cfg 4 --guidance-interval ${interval}\`` : ''} (${run0.sampler.toUpperCase()}, ${run0.steps} steps, labels balanced, seed 0), ${run0.n} samples per row.

${fdTable(next, run0.realFloor)}

${perClassTable(next, run0.realFloor)}

## Against the previous model (same seeds, same ${run0.n} samples per row)

${comparisonTable(next, prev)}

${targetsTable(issue19Targets(next, prev))}

## The sweep (README: "\`dit sweep\`: the guidance × steps study")

\`npx dit sweep ${sweepArgs.join(' ')} --out docs/sweep\` (${report.cells.length} cells; [report.md](sweep/report.md); load average ${sweepLoad} when it ended: its seconds are this machine's at that load):

${sweepTable(report)}

## Checklist (not automated)

- [ ] Look at [sample-x4.png](sample-x4.png) and [sweep/grid.png](sweep/grid.png) at full size: no patch seams, no blown-out bags at CFG 5, every class recognisable (issue 19's by-eye targets).
- [ ] README.md: paste the tables above (FD, per class, sweep) and rewrite the prose under each (minimum of the FD curve, worst classes, what the sweep shows); the caption under the sample (size, steps, time). \`test/ship-summary.test.ts\` fails until the README's sweep table is the one above.
- [ ] training/README.md, "The shipped run": command, seed, epochs, wall time, final loss, FD (from the run's train.json / log).
- [ ] Figures of the previous model still in the docs (its size ${oldFigures.join(', ')}): ${mentions.length ? mentions.join(', ') : 'none found'}.
- [ ] If the default sampler or step count should change: edit \`EMBEDDED_DEFAULTS\` in src/pipeline-core.ts, then rerun this script (the timing and the sample use it).
- [ ] Tests whose bounds were measured on the previous weights: \`npx vitest run test/models/dit-fp16.test.ts test/models/dit-q8.test.ts test/cli/sample.test.ts test/web/site.test.ts\` (fp16 and q8 error against fp32, attention forms, the browser's image against the CLI's); the README's precision tables (fp16/q8 on the embedded model) come from the bench scripts they name.
- [ ] \`npm run build\` (the site bundles the weights) and commit assets/fashion-mnist, docs/.
`;
  fs.writeFileSync(path.join(docsOut, 'embedded-model.md'), md);

  // Into the tree: the previous docs are kept in the work folder first.
  fs.rmSync(docsBefore, { recursive: true, force: true });
  fs.mkdirSync(docsBefore, { recursive: true });
  for (const rel of SHIPPED_DOCS) if (fs.existsSync(path.join(ROOT, rel))) fs.cpSync(path.join(ROOT, rel), path.join(docsBefore, path.basename(rel)), { recursive: true });
  docsMoving = true;
  for (const rel of SHIPPED_DOCS) replaceDir(path.join(docsOut, path.basename(rel)), path.join(ROOT, rel));
  installed = false;
  docsMoving = false;

  const table = [
    '| file | against the file it replaced |',
    '| --- | --- |',
    ...compareShipped(assetsBefore, ASSETS, 'assets/fashion-mnist'),
    ...SHIPPED_DOCS.flatMap((rel) => compareShipped(path.join(docsBefore, path.basename(rel)), path.join(ROOT, rel), rel)),
  ];
  console.log(table.join('\n'));
  log(`done in ${((Date.now() - startedAt.getTime()) / 60000).toFixed(1)} min: docs/embedded-model.md has the tables and the checklist; the work folder ${work} keeps the files it replaced (assets-before/, docs-before/)`);
} catch (e) {
  console.error(`ship: FAILED: ${(e as Error).message}`);
  if (installed) {
    replaceDir(assetsBefore, ASSETS);
    if (docsMoving) {
      for (const rel of SHIPPED_DOCS) {
        const kept = path.join(docsBefore, path.basename(rel));
        if (fs.existsSync(kept)) replaceDir(kept, path.join(ROOT, rel));
        else fs.rmSync(path.join(ROOT, rel), { recursive: true, force: true });
      }
    }
    console.error(`ship: the tree is as it was: assets/fashion-mnist restored from ${assetsBefore}${docsMoving ? `, ${SHIPPED_DOCS.join(', ')} from ${docsBefore}` : ''}; nothing else was changed`);
  } else {
    console.error('ship: nothing in the tree was changed');
  }
  console.error(`ship: the work folder ${work} keeps what was made (rerun with --work ${work} to resume the sweep and FD folders)`);
  process.exit(1);
}
