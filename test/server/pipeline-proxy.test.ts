import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPipeline, type Pipeline, type StepInfo } from '../../src/pipeline.js';
import { createWorkerPipeline } from '../../src/server/pipeline-proxy.js';
import { UsageError } from '../../src/errors.js';

let inProcess: Pipeline;
let worker: Pipeline;

beforeAll(async () => {
  inProcess = await createPipeline({ threads: 1 });
  worker = await createWorkerPipeline({ threads: 1 });
});

afterAll(async () => {
  await inProcess?.dispose();
  await worker?.dispose();
});

describe('createWorkerPipeline (the embedded model in a worker thread)', () => {
  it('describes the same model and resolves options the same way', () => {
    expect(worker.info).toEqual(inProcess.info);
    expect(worker.load).toEqual(inProcess.load);
    const options = { classes: 'bag,sneaker', numImages: 3, seed: '12', cfgScale: 2.5 };
    expect(worker.resolve(options)).toEqual(inProcess.resolve(options));
  });

  it('generates exactly what the in-process pipeline generates, with the same callbacks', async () => {
    const options = { classLabels: [3, 8], numSamplingSteps: 5, seed: 7, cfgScale: 3 };
    const record = () => {
      const steps: Pick<StepInfo, 'i' | 'n' | 't'>[] = [];
      const phases: string[] = [];
      const x0: Float32Array[] = [];
      return { steps, phases, x0, hooks: { onStep: (s: StepInfo) => (steps.push({ i: s.i, n: s.n, t: s.t }), x0.push(Float32Array.from(s.x0))), onPhase: (p: string) => phases.push(p) } };
    };
    const a = record();
    const b = record();
    const here = await inProcess.generate(options, a.hooks);
    const there = await worker.generate(options, b.hooks);
    expect(Buffer.compare(Buffer.from(there.png!), Buffer.from(here.png!))).toBe(0);
    expect(there.latents.data).toEqual(here.latents.data);
    expect(there.options).toEqual(here.options);
    expect(b.steps).toEqual(a.steps);
    expect(b.steps.map((s) => s.i)).toEqual([0, 1, 2, 3, 4]);
    expect(b.phases).toEqual(a.phases);
    expect(b.x0).toEqual(a.x0);
  });

  it('refuses a bad option at once with the resolver\'s UsageError', async () => {
    const err = await worker.generate({ numSamplingSteps: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(/^--num-sampling-steps 0 is out of range/);
  });

  it('stops between steps when aborted, and keeps working afterwards', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const err = await worker
      .generate({ numSamplingSteps: 200 }, { signal: controller.signal, onStep: (s) => (seen.push(s.i), s.i === 2 && controller.abort('stop here')) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('stop here');
    expect(seen.length).toBeLessThan(200);
    const after = await worker.generate({ numSamplingSteps: 2, numImages: 1 });
    expect(after.timings.steps).toBe(2);
  });

  it('passes load errors through with their class and message', async () => {
    const ckpt = '/nonexistent/model.pt';
    const direct = await createPipeline({ ckpt }).catch((e: unknown) => e);
    const viaWorker = await createWorkerPipeline({ ckpt }).catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(UsageError);
    expect(viaWorker).toBeInstanceOf(UsageError);
    expect((viaWorker as Error).message).toBe((direct as Error).message);
  });
});
