/**
 * A stand-in Pipeline for the HTTP tests: the real option resolver over Fashion-MNIST-like model
 * defaults, and a "sampler" whose steps the test can hold and release, so queueing and
 * cancellation are observed at exact points instead of by timing.
 */
import { FASHION_MNIST_CLASSES } from '../../src/classes.js';
import { makeGrid, splitImages, type ImageBatch } from '../../src/image/grid.js';
import { encodePng } from '../../src/image/png.js';
import { ditConfigFor } from '../../src/models/dit-config.js';
import { resolveGenerateOptions, resolveLoadOptions, type ModelDefaults, type UserGenerateOptions } from '../../src/options.js';
import type { GenerateHooks, GenerateResult, Pipeline, Shape4 } from '../../src/pipeline.js';

export const FAKE_SIZE = 8;

export interface FakeRun {
  readonly options: UserGenerateOptions;
  readonly signal: AbortSignal | undefined;
  steps: number;
  outcome: 'running' | 'done' | 'aborted';
}

export interface FakePipeline {
  readonly pipeline: Pipeline;
  readonly runs: FakeRun[];
  /** Steps wait while held (the run stays "in progress" until release()). */
  hold(): void;
  release(): void;
  /** Resolves when the n-th run (1-based) has performed at least `steps` steps. */
  reached(run: number, steps: number): Promise<void>;
}

export const FAKE_DEFAULTS: ModelDefaults = {
  family: 'dit',
  numClasses: 10,
  hasNullClass: true,
  classTable: FASHION_MNIST_CLASSES,
  classTableName: 'Fashion-MNIST',
  inChannels: 1,
  labels: [0, 1, 2, 3],
  cfgScale: 4,
  numSamplingSteps: 6,
  sampler: 'ddpm',
  samplesPerRow: 2,
};

/** Image k of the fake's output: a horizontal ramp offset by its class, so every image differs. */
export function fakeImages(labels: readonly number[], progress: number): ImageBatch {
  const n = labels.length;
  const data = new Float32Array(n * FAKE_SIZE * FAKE_SIZE);
  for (let k = 0; k < n; k++) {
    for (let y = 0; y < FAKE_SIZE; y++) {
      for (let x = 0; x < FAKE_SIZE; x++) {
        data[(k * FAKE_SIZE + y) * FAKE_SIZE + x] = progress * (-1 + (2 * x) / (FAKE_SIZE - 1)) * (1 - labels[k]! / 10);
      }
    }
  }
  return { data, shape: [n, 1, FAKE_SIZE, FAKE_SIZE] };
}

export function createFakePipeline(): FakePipeline {
  const runs: FakeRun[] = [];
  let gate: { promise: Promise<void>; open: () => void } | undefined;
  const waiters: Array<() => void> = [];
  const notify = () => waiters.splice(0).forEach((w) => w());

  const resolve = (o: UserGenerateOptions) => resolveGenerateOptions(o, FAKE_DEFAULTS);

  async function generate(options: UserGenerateOptions = {}, hooks: GenerateHooks = {}): Promise<GenerateResult> {
    const opts = resolve(options);
    const run: FakeRun = { options, signal: hooks.signal, steps: 0, outcome: 'running' };
    runs.push(run);
    notify();
    const shape: Shape4 = [opts.labels.length, 1, FAKE_SIZE, FAKE_SIZE];
    const t0 = performance.now();
    hooks.onPhase?.('sampling');
    try {
      for (let i = 0; i < opts.numSamplingSteps; i++) {
        hooks.signal?.throwIfAborted();
        while (gate) {
          const aborted = new Promise<void>((r) => hooks.signal?.addEventListener('abort', () => r(), { once: true }));
          await Promise.race([gate.promise, aborted]);
          hooks.signal?.throwIfAborted();
        }
        const x0 = fakeImages(opts.labels, (i + 1) / opts.numSamplingSteps).data;
        run.steps = i + 1;
        hooks.onStep?.({ i, n: opts.numSamplingSteps, t: 999 - i, x: x0, x0, shape });
        notify();
        await new Promise((r) => setImmediate(r));
      }
    } catch (err) {
      run.outcome = 'aborted';
      notify();
      throw err;
    }
    hooks.onPhase?.('decoding');
    const images = fakeImages(opts.labels, 1);
    const grid = makeGrid(images, { samplesPerRow: opts.samplesPerRow });
    run.outcome = 'done';
    notify();
    return {
      options: opts,
      latents: { data: images.data, shape },
      images,
      imagesRgb: splitImages(images),
      grid,
      png: encodePng(grid),
      timings: { sampleSeconds: (performance.now() - t0) / 1000, decodeSeconds: 0, steps: opts.numSamplingSteps },
    };
  }

  const pipeline: Pipeline = {
    info: {
      config: ditConfigFor('DiT-S/8', { input_size: FAKE_SIZE, in_channels: 1, num_classes: 10 }),
      family: 'dit',
      description: 'fake 8×8 test model',
      embedded: false,
      imageSize: FAKE_SIZE,
      classTable: FASHION_MNIST_CLASSES,
      defaults: FAKE_DEFAULTS,
      vae: undefined,
      makesImages: true,
      dtype: 'fp32',
      attention: 'fused',
    },
    load: resolveLoadOptions({}),
    resolve,
    generate,
    async dispose() {},
  };

  return {
    pipeline,
    runs,
    hold() {
      if (gate) return;
      let open!: () => void;
      const promise = new Promise<void>((r) => (open = r));
      gate = { promise, open };
    },
    release() {
      const g = gate;
      gate = undefined;
      g?.open();
    },
    reached(run, steps) {
      return new Promise((resolveReached) => {
        const check = () => {
          const r = runs[run - 1];
          if (r && (r.steps >= steps || r.outcome !== 'running')) resolveReached();
          else waiters.push(check);
        };
        check();
      });
    },
  };
}
