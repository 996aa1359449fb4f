/**
 * `dit sample`: the notebook's job in one command. Flags mirror DiT's sample.py and the notebook;
 * they go through the same resolver as the library and the server, so a bad value fails before
 * anything is loaded.
 */
import type { Command } from 'commander';
import { createPipeline, type Pipeline } from '../pipeline.js';
import { checkGenerateOptionsEarly, resolveGenerateOptions, resolveLoadOptions } from '../options.js';
import { UsageError } from '../errors.js';
import { saveEach } from '../image/png.js';
import { writeFileAtomic } from '../atomic-write.js';
import { writeNpy } from '../checkpoint/index.js';
import { createProgress, formatSeconds } from './progress.js';
import { checkWritable } from './output.js';
import { addFlags, GENERATE_FLAG_NAMES, generateOptionsFrom, LOAD_FLAG_NAMES, loadOptionsFrom, type GenerateFlags, type LoadFlags } from './flags.js';

interface SampleFlags extends LoadFlags, GenerateFlags {
  out: string;
  saveEach?: string;
  saveLatents?: string;
  quiet?: boolean;
}

/** The dtype the run used, and the VAE's when it differs (q8 decodes in fp32): "q8 (VAE fp32)". */
function dtypeNote(info: Pipeline['info']): string {
  return info.vaeDtype === undefined || info.vaeDtype === info.dtype ? info.dtype : `${info.dtype} (VAE ${info.vaeDtype})`;
}

export function register(program: Command): void {
  const cmd = program.command('sample').description('generate a grid of class-conditional samples (defaults: the embedded model, 8 classes, CFG 4, seed 0)');
  addFlags(cmd, [...LOAD_FLAG_NAMES, ...GENERATE_FLAG_NAMES, 'out', 'saveEach', 'saveLatents', 'quiet'], { out: 'sample.png' });
  cmd.action(async (flags: SampleFlags) => {
    const started = performance.now();
    // Bad flags fail before any file is touched; class ids and names right after the checkpoint's header.
    const load = resolveLoadOptions(loadOptionsFrom(flags));
    const generate = generateOptionsFrom(flags);
    checkGenerateOptionsEarly(generate);
    checkWritable(flags.out, { extension: '.png' });
    if (flags.saveLatents) checkWritable(flags.saveLatents, { extension: '.npy', example: 'latents.npy' });
    if (flags.saveEach) checkWritable(flags.saveEach, { directory: true });

    const progress = createProgress({ quiet: flags.quiet ?? false });
    let pipeline: Pipeline | undefined;
    try {
      pipeline = await createPipeline(load, {
        onPhase: (p) => progress.phase(p),
        beforeBuild: (defaults) => void resolveGenerateOptions(generate, defaults),
      });
      if (!pipeline.info.makesImages && !flags.saveLatents) {
        throw new UsageError('--vae none decodes no images: pass --save-latents FILE to keep the latents, or a VAE with --vae ema|mse|PATH');
      }
      const loadSeconds = (performance.now() - started) / 1000;
      const result = await pipeline.generate(generate, {
        onStep: (s) => progress.step('sampling', s.i + 1, s.n),
        onPhase: (p) => progress.phase(p),
      });
      progress.done();
      if (result.png) writeFileAtomic(flags.out, result.png);
      if (flags.saveEach && result.imagesRgb) saveEach(flags.saveEach, result.imagesRgb);
      if (flags.saveLatents) writeNpy(flags.saveLatents, result.latents.data, result.latents.shape);
      if (!flags.quiet) {
        const t = result.timings;
        process.stderr.write(
          `load ${formatSeconds(loadSeconds)} · sample ${formatSeconds(t.sampleSeconds)} (${t.steps} steps, ${formatSeconds(t.sampleSeconds / t.steps)}/step) · decode ${formatSeconds(t.decodeSeconds)} · dtype ${dtypeNote(pipeline.info)} · attention ${pipeline.info.attention}\n`,
        );
      }
      process.stdout.write(`${result.png ? flags.out : flags.saveLatents}\n`);
    } finally {
      await pipeline?.dispose();
    }
  });
}
