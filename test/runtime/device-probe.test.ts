/**
 * The early device probe (checkDeviceStarts, which createPipeline calls before reading a checkpoint)
 * and createSession refuse a device in the same words. A file of its own: the probe's results are
 * cached per process, and these tests make ONNX Runtime fail on purpose.
 */
import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { encodeModel, GraphBuilder } from '../../src/graph/index.js';
import { checkDeviceStarts, createSession, deviceSupport } from '../../src/runtime/index.js';

const requireWebgpu = process.env.DIT_REQUIRE_WEBGPU === '1';

function tinyModel(): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [2]);
  g.output(g.add(x, x), 'y');
  return encodeModel(g.finish());
}

afterEach(() => vi.restoreAllMocks());

describe('device probe', () => {
  it('opens no session to probe the CPU: its provider is part of the core library', async () => {
    const create = vi.spyOn(ort.InferenceSession, 'create');
    await checkDeviceStarts('cpu');
    expect(create).not.toHaveBeenCalled();
  });

  it.runIf(deviceSupport().webgpu.available || requireWebgpu)(
    'a bundled provider that does not start is refused by the probe, before any model is opened, in the words createSession uses',
    async () => {
      const create = vi.spyOn(ort.InferenceSession, 'create').mockRejectedValue(new Error('no GPU adapter\nat somewhere'));
      const early = await checkDeviceStarts('webgpu').catch((e: unknown) => e);
      // One call: the one-node probe (cpu is not probed; cuda is either not bundled or fails the same way).
      expect(create.mock.calls.filter(([, o]) => (o as ort.InferenceSession.SessionOptions).executionProviders?.[0] === 'webgpu')).toHaveLength(1);
      expect(early).toBeInstanceOf(UsageError);
      expect((early as Error).message).toBe(
        '--device webgpu is not available here: its provider does not start (no GPU adapter). Devices that work here: cpu; pass one of them to --device',
      );
      const late = await createSession(tinyModel(), { device: 'webgpu' }).catch((e: unknown) => e);
      expect(late).toBeInstanceOf(UsageError);
      expect((late as Error).message).toBe((early as Error).message);
    },
  );
});
