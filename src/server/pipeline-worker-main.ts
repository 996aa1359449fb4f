/**
 * The worker thread's entry point: one pipeline, driven by pipeline-proxy.ts's messages. Messages
 * are taken while the model loads too (a build yields between tensors), so that 'dispose' (dit serve
 * stopping) removes an unfinished compiled model before the thread is terminated.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createPipeline, type Pipeline } from '../pipeline.js';
import type { UserLoadOptions } from '../options.js';
import { removeTemporaries } from '../runtime/temporaries.js';
import { serializeError, type FromWorker, type ToWorker } from './pipeline-proxy.js';

const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);

let pipeline: Pipeline | undefined;
const controllers = new Map<number, AbortController>();

port.on('message', async (m: ToWorker) => {
  if (m.type === 'generate') {
    const controller = new AbortController();
    controllers.set(m.job, controller);
    try {
      if (!pipeline) throw new Error('the model did not load');
      const result = await pipeline.generate(m.options, {
        signal: controller.signal,
        onStep: (step) => post({ type: 'step', job: m.job, step }),
        onPhase: (phase) => post({ type: 'job-phase', job: m.job, phase }),
      });
      post({ type: 'result', job: m.job, result });
    } catch (err) {
      post({ type: 'failed', job: m.job, error: serializeError(err) });
    } finally {
      controllers.delete(m.job);
    }
  } else if (m.type === 'abort') {
    // Handled between steps: the running step (one synchronous ONNX Runtime call) finishes first.
    controllers.get(m.job)?.abort(m.reason);
  } else if (m.type === 'dispose') {
    // Signals reach only the main thread: a model this thread is still writing goes now.
    removeTemporaries();
    await pipeline?.dispose();
    post({ type: 'disposed' });
    port.close();
  }
});

try {
  pipeline = await createPipeline((workerData as { load: UserLoadOptions }).load, { onPhase: (phase) => post({ type: 'phase', phase }) });
  post({ type: 'ready', info: pipeline.info, load: pipeline.load });
} catch (err) {
  post({ type: 'load-failed', error: serializeError(err) });
}
