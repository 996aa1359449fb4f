/**
 * `dit fid SET --ref REF`: Fréchet Inception Distance with pytorch-fid's network and preprocessing
 * (src/fid.ts). SET and REF are folders of PNGs, .npz files of images (arr_0) or of statistics
 * (mu, sigma); `--save-stats OUT.npz` keeps SET's statistics for later runs.
 */
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { openStateDict } from '../checkpoint/index.js';
import { featureStatistics, frechetDistance, openFidSource, saveFidStats, type FidSource } from '../fid.js';
import { defaultCacheDir, resolveInceptionWeights } from '../model-files.js';
import { FID_DEFAULTS, resolveFidOptions } from '../options.js';
import { createInceptionFeatures } from '../runtime/inception-session.js';
import { checkWritable } from './output.js';
import { addFlags } from './flags.js';
import { createProgress } from './progress.js';

interface FidFlags {
  ref?: string;
  saveStats?: string;
  inception?: string;
  batchSize?: string;
  device?: string;
  threads?: string;
  cacheDir?: string;
  json?: boolean;
  quiet?: boolean;
}

const describe = (s: FidSource): string => (s.kind === 'stats' ? `statistics ${s.path}` : `${s.count} images of ${s.path}`);

export function register(program: Command): void {
  const cmd = program
    .command('fid')
    .description("Fréchet Inception Distance (pytorch-fid's Inception v3 and preprocessing) of a set against a reference: folders of PNGs or .npz files of images (arr_0) or statistics (mu, sigma)")
    .argument('<set>', 'folder of PNGs, .npz with arr_0 uint8 (N, H, W, 3), or .npz with mu and sigma')
    .option('--ref <set>', 'reference set, the same kinds (e.g. the ADM evaluator\'s VIRTUAL_imagenet256_labeled.npz)')
    .option('--save-stats <file.npz>', "write the set's statistics (mu, sigma float64) for later runs, as pytorch-fid's --save-stats")
    .option('--inception <file>', "pytorch-fid's pt_inception-2015-12-05-6726825d.pth (default: the one `dit download inception` put in the cache folder)");
  addFlags(cmd, ['batchSize', 'device', 'threads', 'cacheDir', 'json', 'quiet'], { batchSize: FID_DEFAULTS.batchSize });
  cmd.action(async (set: string, flags: FidFlags) => {
    const opts = resolveFidOptions({ batchSize: flags.batchSize, device: flags.device, threads: flags.threads, cacheDir: flags.cacheDir });
    if (flags.ref === undefined && flags.saveStats === undefined) {
      throw new UsageError('dit fid needs --ref REF (a set to compare with) or --save-stats OUT.npz (keep this set\'s statistics), or both');
    }
    if (flags.saveStats !== undefined) checkWritable(flags.saveStats, { extension: '.npz', example: 'stats.npz' });
    // Everything the user named is opened and checked before the network is built.
    const input = openFidSource(set, 'the set');
    const ref = flags.ref === undefined ? undefined : openFidSource(flags.ref, '--ref');
    const needsNet = input.kind === 'images' || ref?.kind === 'images';
    const weightsFile = needsNet ? resolveInceptionWeights(flags.inception, opts.cacheDir ?? defaultCacheDir()) : undefined;
    const progress = createProgress({ quiet: Boolean(flags.quiet || flags.json) });
    const started = performance.now();
    const weights = weightsFile === undefined ? undefined : openStateDict(weightsFile);
    const net = weights === undefined ? undefined : createInceptionFeatures(weights.tensors, { device: opts.device, threads: opts.threads });
    try {
      const statsOf = (s: FidSource, label: string) =>
        featureStatistics(s, net!, { batchSize: opts.batchSize, onProgress: (done, total) => progress.step(`Inception features of ${label}`, done, total) });
      const a = await statsOf(input, 'the set');
      if (flags.saveStats !== undefined) saveFidStats(flags.saveStats, a);
      const b = ref === undefined ? undefined : await statsOf(ref, '--ref');
      progress.done();
      const fid = b === undefined ? undefined : frechetDistance(a, b);
      const seconds = (performance.now() - started) / 1000;
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ fid: fid ?? null, set: set, images: input.kind === 'images' ? input.count : null, ref: flags.ref ?? null, refImages: ref?.kind === 'images' ? ref.count : null, savedStats: flags.saveStats ?? null, seconds })}\n`);
      } else {
        if (fid !== undefined) process.stdout.write(`FID ${fid.toFixed(4)}  (${describe(input)} against ${describe(ref!)}; ${seconds.toFixed(1)} s)\n`);
        if (flags.saveStats !== undefined) process.stdout.write(`wrote the statistics of ${describe(input)} to ${flags.saveStats}\n`);
      }
    } finally {
      progress.done();
      await net?.release();
      weights?.close();
    }
  });
}
