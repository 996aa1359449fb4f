/**
 * The one file that touches ONNX Runtime: devices, session options, tensors in and out.
 * Devices map to execution providers through one frozen table; asking for one that this install
 * cannot run gives a UsageError listing the devices that work here and why the others do not.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { arch, cpus } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { assert, DitError, UsageError } from '../errors.js';
import { encodeModel, GraphBuilder } from '../graph/index.js';
import { DEVICE_NAMES, DEVICE_PROVIDERS, isDevice, type Device, type GraphOptimizationLevel } from './devices.js';
import { wrapOrtSession, type Session, type SessionOptions } from './session-core.js';
import { softwareAdapterWarning, softwareOnlyVulkanDriver } from './webgpu-adapter.js';
export type { GraphOptimizationLevel };

export { DEVICE_PROVIDERS as DEVICES, isDevice, type Device };
// The provider table is checked against the names this onnxruntime knows, so neither can drift.
DEVICE_PROVIDERS satisfies Record<Device, ort.InferenceSession.ExecutionProviderName>;

export type { NamedTensor, Session, SessionOptions } from './session-core.js';

/** Which devices this install can use, with the reason for each that it cannot. */
export function deviceSupport(): Record<Device, { available: boolean; reason?: string }> {
  const backends = new Map(ort.listSupportedBackends().map((b) => [b.name, b.bundled]));
  const out = {} as Record<Device, { available: boolean; reason?: string }>;
  for (const d of DEVICE_NAMES) {
    const ep = DEVICE_PROVIDERS[d];
    if (!backends.has(ep)) out[d] = { available: false, reason: `onnxruntime-node on ${process.platform}-${process.arch} has no ${ep} execution provider` };
    else if (!backends.get(ep)) out[d] = { available: false, reason: `the ${ep} provider is not bundled; install it (npm install onnxruntime-node --onnxruntime-node-install=cuda12 for CUDA 12)` };
    else out[d] = { available: true };
  }
  return out;
}

/** The caller's device, refused with unavailableDevice's message when this install lacks its provider. */
async function checkDevice(device: string): Promise<Device> {
  // The user's --device was checked by options.ts; here it is a caller's promise.
  assert(isDevice(device), `unknown device "${device}"; use one of: ${DEVICE_NAMES.join(', ')}`);
  const { reason } = deviceSupport()[device];
  if (reason !== undefined) throw await unavailableDevice(device, reason);
  return device;
}

/**
 * The one message for a device that cannot run here, whoever finds out (the early probe or a session
 * that fails to open): which device, why, the devices that work here, and how to pick one.
 */
async function unavailableDevice(device: Device, reason: string): Promise<UsageError> {
  return new UsageError(`--device ${device} is not available here: ${reason}. Devices that work here: ${await workingDevices()}; pass one of them to --device`);
}

/**
 * ONNX Runtime's session options for a device: exported only so that bench/webgpu-options.mjs times
 * provider options against exactly what createSession passes (it swaps in its own provider list).
 */
export function ortOptions(device: Device, opts: SessionOptions): ort.InferenceSession.SessionOptions {
  assert(opts.threads === undefined || (Number.isInteger(opts.threads) && opts.threads >= 1), `threads ${opts.threads} must be a positive integer`);
  return {
    executionProviders: device === 'cpu' ? ['cpu'] : [DEVICE_PROVIDERS[device], 'cpu'],
    ...(opts.threads === undefined ? {} : { intraOpNumThreads: opts.threads }),
    interOpNumThreads: 1,
    graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
    enableCpuMemArena: opts.enableCpuMemArena ?? true,
    logSeverityLevel: opts.logSeverityLevel ?? 3,
    executionMode: 'sequential',
    ...(opts.profileFilePrefix === undefined ? {} : { enableProfiling: true, profileFilePrefix: opts.profileFilePrefix }),
  };
}

/** A one-node model (y = x + x): enough to ask a provider whether it starts at all. */
function probeModel(): Uint8Array {
  const g = new GraphBuilder({ name: 'probe' });
  const x = g.input('x', 'float32', [1, 2]);
  g.output(g.add(x, x), 'y');
  return encodeModel(g.finish());
}
const probes = new Map<Device, Promise<string | undefined>>();

/** Why `device` cannot run even a one-node model here, or undefined when it can. */
export function deviceFailure(device: Device): Promise<string | undefined> {
  let p = probes.get(device);
  if (!p) {
    const { reason } = deviceSupport()[device];
    // The CPU provider is part of ONNX Runtime's core library, which this process has already
    // loaded to list its backends: it cannot be missing, so it is not probed (~40 ms saved).
    if (reason !== undefined || device === 'cpu') p = Promise.resolve(reason);
    else {
      p = ort.InferenceSession.create(probeModel(), { executionProviders: [DEVICE_PROVIDERS[device]], logSeverityLevel: 3 }).then(
        async (session) => {
          await session.release();
          return undefined;
        },
        (err: unknown) => `its provider does not start (${(err as Error).message.split('\n')[0]})`,
      );
    }
    probes.set(device, p);
  }
  return p;
}

/**
 * Refuses, before any file is read, a device this install cannot start (e.g. --device cuda without
 * the CUDA provider or driver): a one-node probe, cached per process, so a typo'd or missing device
 * is not reported only after a 2.7 GB checkpoint load and a graph build.
 */
export async function checkDeviceStarts(device: Device): Promise<void> {
  // The probe opens the device: the software-GPU warning must come first, as for any session.
  await warnBeforeOpening(device);
  const reason = await deviceFailure(device);
  if (reason !== undefined) throw await unavailableDevice(device, reason);
}

async function workingDevices(): Promise<string> {
  const failures = await Promise.all(DEVICE_NAMES.map((d) => deviceFailure(d)));
  return DEVICE_NAMES.filter((_, i) => failures[i] === undefined).join(', ');
}

let softwareAdapterChecked = false;

/**
 * Says once per process, as a 'DitWarning' (see process.on('warning')), that WebGPU will run on a
 * software Vulkan driver (runtime/webgpu-adapter.ts); before the first WebGPU session, so the line
 * comes ahead of the lines Dawn prints when it opens that driver.
 */
function warnSoftwareAdapterOnce(): boolean {
  if (softwareAdapterChecked) return false;
  softwareAdapterChecked = true;
  const warning = softwareAdapterWarning(softwareOnlyVulkanDriver());
  if (warning !== undefined) process.emitWarning(warning, 'DitWarning');
  return warning !== undefined;
}

/** The once-per-process warning before a device is first opened; process.emitWarning delivers on
 * the next tick, so wait for it: the line then comes before the ones Dawn prints. */
async function warnBeforeOpening(device: Device): Promise<void> {
  if (device === 'webgpu' && warnSoftwareAdapterOnce()) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * A session from a model file (external data beside it is read by ONNX Runtime itself, so the
 * weights are never held twice by this process) or from in-memory bytes (small models).
 */
export async function createSession(model: string | Uint8Array, opts: SessionOptions = {}): Promise<Session> {
  const device = await checkDevice(opts.device ?? 'cpu');
  const options = ortOptions(device, opts);
  await warnBeforeOpening(device);
  let session: ort.InferenceSession;
  try {
    session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  } catch (err) {
    const reason = await deviceFailure(device);
    if (reason !== undefined) throw await unavailableDevice(device, reason);
    const where = typeof model === 'string' ? model : `${model.byteLength}-byte model`;
    throw new DitError(`ONNX Runtime could not load ${where} on ${device}: ${(err as Error).message}`);
  }
  return wrapOrtSession(ort, session);
}

/**
 * Whether a model opened with these options can be stored as ONNX Runtime optimised it
 * (saveOptimizedModel), so that later sessions skip the optimisation: the CPU at level 'all', whose
 * NCHWc layout transform of the VAE's convolutions is most of its session creation (0.39 of 0.45 s
 * of CPU here). Other providers optimise per device at session creation; they keep the plain graph.
 */
export function canStoreOptimized(opts: SessionOptions): boolean {
  return (opts.device ?? 'cpu') === 'cpu' && (opts.graphOptimizationLevel ?? 'all') === 'all';
}

/**
 * What a stored optimised model depends on besides its graph: ONNX Runtime's version (its
 * optimisers) and this CPU's instruction sets (MLAS picks the NCHWc block size and kernels by them:
 * 8 channels with AVX2, 16 with AVX-512). A cache entry keyed by this is rebuilt on another CPU.
 */
export function optimizedModelTarget(): { readonly ort: string; readonly cpu: string } {
  let flags = '';
  try {
    flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? '';
  } catch {
    // Not Linux: the model name stands for the instruction sets.
  }
  const cpu = createHash('sha256').update(`${arch()}\n${cpus()[0]?.model ?? ''}\n${flags}`).digest('hex').slice(0, 16);
  return { ort: ort.env.versions.node ?? ort.env.versions.common, cpu };
}

/** The session options that open a model written by saveOptimizedModel: no second optimisation. */
export function storedOptimizedOptions(opts: SessionOptions): SessionOptions {
  assert(canStoreOptimized(opts), 'only CPU models at level all are stored optimised');
  return { ...opts, graphOptimizationLevel: 'disabled' };
}

/**
 * Writes the model at `source` (with its external data) to `target` as ONNX Runtime optimises it on
 * this CPU with `opts`, weights in `<target>.data`; see canStoreOptimized and optimizedModelTarget.
 */
export async function saveOptimizedModel(source: string, target: string, opts: SessionOptions): Promise<void> {
  assert(canStoreOptimized(opts), 'only CPU models at level all are stored optimised');
  const options: ort.InferenceSession.SessionOptions = {
    ...ortOptions('cpu', { ...opts, profileFilePrefix: undefined }),
    optimizedModelFilePath: target,
    extra: {
      session: {
        optimized_model_external_initializers_file_name: `${path.basename(target)}.data`,
        optimized_model_external_initializers_min_size_in_bytes: '1024',
      },
    },
  };
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(source, options);
  } catch (err) {
    throw new DitError(`ONNX Runtime could not optimise ${source}: ${(err as Error).message}`);
  }
  await session.release();
}
