/** report.md (a table to paste into a report, with the sheet embedded) and report.json. */
import type { SweepPlan } from './plan.js';
import type { Classifier } from '../runtime/index.js';
import type { CellResult } from './run.js';

export interface ReportInput {
  readonly title: string;
  readonly model: string;
  readonly plan: SweepPlan;
  readonly cells: readonly CellResult[];
  readonly classifier?: Pick<Classifier, 'testAccuracy'>;
}

const fixed = (v: number | undefined, digits: number) => (v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits));

/** "0, 1, 2" or, for repeats, "0–9 ×4". */
function summariseLabels(labels: readonly number[]): string {
  const distinct = [...new Set(labels)];
  const times = labels.length / distinct.length;
  const cyclic = Number.isInteger(times) && labels.every((l, i) => l === distinct[i % distinct.length]);
  if (!cyclic || times === 1) return labels.join(', ');
  const consecutive = distinct.every((l, i) => l === distinct[0]! + i);
  return `${consecutive && distinct.length > 2 ? `${distinct[0]}–${distinct.at(-1)}` : distinct.join(', ')} ×${times}`;
}

export function renderReport(input: ReportInput): { markdown: string; json: unknown } {
  const { plan, cells } = input;
  const swept = [plan.rows, plan.columns].filter((a) => a !== undefined);
  const hasSaturation = cells.some((c) => c.metrics.saturation !== undefined);
  const hasClassifier = cells.some((c) => c.metrics.classAccuracy !== undefined);

  const header = [
    ...swept.map((a) => a!.flag.slice(2)),
    'sample s',
    's/step',
    'decode s',
    'diversity',
    'sharpness',
    ...(hasSaturation ? ['saturation'] : []),
    ...(hasClassifier ? ['class acc.', 'confidence', 'within-class div.', `FD (${cells[0]?.settings.labels.length ?? 0} img., noisy)`] : []),
  ];
  const rows = cells.map((c) => [
    ...swept.map((a) => c.values[a!.flag] ?? ''),
    fixed(c.seconds.sample, 2),
    fixed(c.seconds.perStep, 4),
    fixed(c.seconds.decode, 2),
    fixed(c.metrics.diversity, 4),
    fixed(c.metrics.sharpness, 5),
    ...(hasSaturation ? [fixed(c.metrics.saturation, 3)] : []),
    ...(hasClassifier
      ? [fixed(c.metrics.classAccuracy, 3), fixed(c.metrics.classConfidence, 3), fixed(c.metrics.withinClassDiversity, 4), fixed(c.metrics.fd, 1)]
      : []),
  ]);
  const first = cells[0]?.settings;
  const fixedSettings = first
    ? [
        `- model: ${input.model}`,
        `- seed ${first.seed} (every cell starts from the same noise), ${first.labels.length} images, labels ${summariseLabels(first.labels)}`,
        ...(['cfgScale', 'numSamplingSteps', 'sampler', 'guidance'] as const)
          .filter((k) => cells.every((c) => c.settings[k] === first[k]))
          .map((k) => `- ${k === 'cfgScale' ? 'cfg-scale' : k === 'numSamplingSteps' ? 'num-sampling-steps' : k} ${first[k]}`),
        ...(first.guidanceInterval ? [`- guidance interval ${first.guidanceInterval.join('..')}`] : []),
      ]
    : [];
  const markdown = [
    `# ${input.title}`,
    '',
    '![contact sheet](grid.png)',
    '',
    ...fixedSettings,
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    'Metrics (images in [-1, 1], clamped as saved):',
    '- diversity: mean pairwise RMS pixel distance between the cell\'s images; lower = more alike.',
    '- sharpness: variance of the 4-neighbour Laplacian of luminance in [0, 1], mean over images; higher = more fine detail (or artefacts).',
    ...(hasSaturation ? ['- saturation: mean HSV saturation.'] : []),
    ...(hasClassifier
      ? [
          `- class acc.: share of images the shipped classifier (test accuracy ${fixed((input.classifier?.testAccuracy ?? NaN) * 100, 1)}%) assigns to their label; confidence: its mean probability for the label.`,
          '- within-class div.: diversity among images of the same label, averaged over labels.',
          `- FD: Fréchet distance between the classifier's 128 penultimate features of the cell's ${cells[0]?.settings.labels.length ?? 0} images and of the Fashion-MNIST test set (lower = closer to the data). From so few images it is biased upward and noisy (500 real test images score about 5): compare cells with each other only, and measure curves with \`dit generate --num-samples 2000\` or more.`,
        ]
      : []),
    '',
  ].join('\n');
  return {
    markdown,
    json: {
      title: input.title,
      model: input.model,
      rows: plan.rows ?? null,
      columns: plan.columns ?? null,
      base: plan.base,
      classifierTestAccuracy: input.classifier?.testAccuracy ?? null,
      cells,
    },
  };
}
