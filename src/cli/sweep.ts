/**
 * `dit sweep`: the guidance × steps study in one command. Any generate flag given as a comma list
 * is swept (at most two: rows and columns); every cell starts from the same seed.
 */
import type { Command } from 'commander';
import { createPipeline, type Pipeline } from '../pipeline.js';
import { ignoredGenerateOptions, resolveLoadOptions } from '../options.js';
import { UsageError } from '../errors.js';
import { planSweep, sweepModelId } from '../sweep/plan.js';
import { runSweep } from '../sweep/run.js';
import { openEmbeddedClassifier, weightsIdentity } from '../model-files.js';
import { FASHION_MNIST_CLASSES } from '../classes.js';
import { addFlags, flag, GENERATE_FLAG_NAMES, generateOptionsFrom, LOAD_FLAG_NAMES, loadOptionsFrom, type GenerateFlags, type LoadFlags } from './flags.js';
import { createProgress, formatSeconds } from './progress.js';
import { checkWritable } from './output.js';

interface SweepFlags extends LoadFlags, GenerateFlags {
  out: string;
  quiet?: boolean;
}

/**
 * The embedded model's default image set: class adherence and within-class diversity need several
 * samples per class, so every class this many times, one class per column.
 */
const EMBEDDED_SAMPLES_PER_CLASS = 4;
const EMBEDDED_CLASSES = FASHION_MNIST_CLASSES.length;

export function register(program: Command): void {
  const cmd = program
    .command('sweep')
    .description(
      'compare settings side by side: e.g. --cfg-scale 1,5,10 --num-sampling-steps 50,250,500 → contact sheet, timings, metrics. ' +
        `On the embedded model without --class-labels, --classes or --num-images, each cell samples ${EMBEDDED_CLASSES * EMBEDDED_SAMPLES_PER_CLASS} images: ` +
        `each of the ${EMBEDDED_CLASSES} Fashion-MNIST classes ×${EMBEDDED_SAMPLES_PER_CLASS}, one class per column`,
    );
  addFlags(cmd, [...LOAD_FLAG_NAMES, ...GENERATE_FLAG_NAMES]);
  cmd
    // A folder here, not sample's grid file.
    .option('--out <dir>', 'output folder (resumes a sweep stopped half-way)', 'sweep')
    .addOption(flag('quiet'))
    .action(async (flags: SweepFlags) => {
      const load = resolveLoadOptions(loadOptionsFrom(flags));
      checkWritable(flags.out, { directory: true });
      const raw = generateOptionsFrom(flags);
      // Without --sampler every cell uses the model's default: DiT's notebook (ddpm), SiT's or REPA's.
      // Every cell's values, before the model is loaded (the model-dependent rest after loading).
      // A value that changes nothing is refused only when it changes nothing in every cell
      // (--eta 0.5 with --sampler ddpm,ddim is read by the ddim cells).
      const ignored = planSweep(raw, process.argv, '').cells.map((cell) => ignoredGenerateOptions(cell.options));
      for (const first of ignored[0] ?? []) {
        const flagName = first.split(' ')[0]!;
        if (ignored.every((messages) => messages.some((m) => m.startsWith(`${flagName} `)))) throw new UsageError(first);
      }
      const progress = createProgress({ quiet: flags.quiet ?? false });
      let pipeline: Pipeline | undefined;
      try {
        pipeline = await createPipeline(load, { onPhase: (p) => progress.phase(p) });
        if (pipeline.info.embedded && raw.classLabels === undefined && raw.classes === undefined && raw.numImages === undefined) {
          raw.classLabels = Array.from({ length: EMBEDDED_CLASSES * EMBEDDED_SAMPLES_PER_CLASS }, (_, i) => i % EMBEDDED_CLASSES).join(',');
          raw.samplesPerRow ??= String(EMBEDDED_CLASSES);
        }
        const plan = planSweep(raw, process.argv, sweepModelId(pipeline.info, weightsIdentity(pipeline.load), pipeline.load.device));
        const classifier = pipeline.info.embedded ? await openEmbeddedClassifier({ threads: load.threads }) : undefined;
        const axes = [plan.rows, plan.columns].filter((a) => a).map((a) => `${a!.flag.slice(2)} ${a!.values.join('/')}`);
        const result = await runSweep({
          plan,
          pipeline,
          outDir: flags.out,
          title: `${pipeline.info.embedded ? 'Embedded Fashion-MNIST DiT' : pipeline.info.description.split(' (')[0]}: ${axes.join(' x ') || 'one cell'}`,
          classifier,
          onProgress: (p) => {
            const eta = Number.isFinite(p.etaSeconds) ? ` · sweep ETA ${formatSeconds(p.etaSeconds)}` : '';
            const where = p.step === 0 ? 'done in an earlier run' : `step ${p.step}/${p.steps}`;
            progress.status(`cell ${p.cell}/${p.cells} ${where}${eta}`, p.step === p.steps || p.step === 0);
          },
        });
        progress.done();
        await classifier?.release();
        if (!flags.quiet && result.resumed > 0) process.stderr.write(`resumed: ${result.resumed} of ${result.cells.length} cells were already done\n`);
        process.stdout.write(`${result.files.sheet}\n${result.files.markdown}\n${result.files.json}\n`);
      } finally {
        await pipeline?.dispose();
      }
    });
}
