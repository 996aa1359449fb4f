/**
 * Classifier-free guidance (Ho & Salimans 2022) folded into a ModelFn, as DiT's forward_with_cfg
 * does it, plus the standard all-channel form and guidance limited to an interval of timesteps
 * (Kynkäänniemi et al. 2024, "Applying Guidance in a Limited Interval Improves Sample and
 * Distribution Quality in Diffusion Models").
 */
import { assert, DitError } from '../errors.js';
import { TRAIN_TIMESTEPS } from './schedule.js';
import type { ConditionalModelFn, LatentShape, ModelFn } from './types.js';

/**
 * `dit`: official forward_with_cfg — guides output channels 0..2 only (`model_out[:, :3]`); channel 3
 * and the variance channels keep the conditional values (kept for exact reproduction of the paper).
 * `all`: guides every eps channel; variance channels stay conditional (diffusers' form).
 * `off`: conditional model only, no unconditional branch (the official sample_ddp.py with cfg ≤ 1).
 */
export type GuidanceForm = 'dit' | 'all' | 'off';
export const GUIDANCE_FORMS: readonly GuidanceForm[] = ['dit', 'all', 'off'];

export interface GuidanceOptions {
  readonly form: GuidanceForm;
  readonly scale: number; // s in uncond + s·(cond − uncond); ignored by `off`
  /**
   * Guide only while lo ≤ t ≤ hi, t the ORIGINAL timestep (0 … 999, 999 = pure noise); elsewhere the
   * conditional output is used as is and the unconditional forward is skipped. Default: always.
   */
  readonly interval?: readonly [lo: number, hi: number];
}

/** What `guidedModel` needs: the raw network, the batch's labels, and the guidance to apply. */
export interface GuidedModelSpec extends GuidanceOptions {
  readonly forward: ConditionalModelFn;
  readonly labels: ArrayLike<number>; // (N) class ids
  readonly nullClass: number; // num_classes: the label table's unconditional row
  readonly inChannels: number; // C: eps channels
  readonly outChannels: number; // C, or 2C when the model learns sigma
  readonly sampleShape: LatentShape; // (N, C, H, W) of the images being sampled
}

/** A ModelFn that also says how many images each official noise draw covers (see officialNoiseBatch). */
export type GuidedModel = ModelFn & { readonly noiseBatch: number };

/**
 * Images per `randn_like(x)` draw in the official loop: the official sample.py doubles the batch
 * whenever it guides (even at scale 1), so reproducing its noise needs 2N draws unless guidance is `off`.
 */
export function officialNoiseBatch(form: GuidanceForm, n: number): number {
  return form === 'off' ? n : 2 * n;
}

/** Output channels the guidance formula touches, from channel 0. */
export function guidedChannelCount(form: GuidanceForm, inChannels: number, outChannels: number): number {
  if (form === 'off') return 0;
  // Literal `[:, :3]` of the official code, whatever the channel count.
  if (form === 'dit') return Math.min(3, outChannels);
  return inChannels;
}

/** Whether a step at original timestep t runs the unconditional branch at all. */
export function guidanceActive(guidance: GuidanceOptions, t: number): boolean {
  if (guidance.form === 'off' || guidance.scale === 1) return false;
  const [lo, hi] = guidance.interval ?? [-Infinity, Infinity];
  return lo <= t && t <= hi;
}

/**
 * Whether an interval of original timesteps leaves every step guided: none, or one that covers
 * 0 … 999 (`--guidance-interval 0,999` on the embedded model, whose default is an interval).
 */
export function guidesEveryStep(interval: readonly [number, number] | null | undefined): boolean {
  return !interval || (interval[0] <= 0 && interval[1] >= TRAIN_TIMESTEPS - 1);
}

/** Checks the caller's options once (options.ts validated the user's), so that the sampling loop never has to. */
export function validateGuidance(guidance: GuidanceOptions): void {
  assert(GUIDANCE_FORMS.includes(guidance.form), `guidance '${String(guidance.form)}' is unknown; use one of: ${GUIDANCE_FORMS.join(', ')}`);
  assert(Number.isFinite(guidance.scale) && guidance.scale >= 0, `cfg scale ${guidance.scale} is invalid; it must be a finite number ≥ 0 (1 = no guidance)`);
  if (guidance.interval !== undefined) {
    const [lo, hi] = guidance.interval;
    assert(
      Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi,
      `guidance interval [${lo}, ${hi}] is invalid; give original timesteps lo ≤ hi within 0 … 999, e.g. [0, 700]`,
    );
  }
}

const f32 = Math.fround;

/**
 * Combines a doubled-batch output (2N, outC, H, W) — conditional first, unconditional second — into
 * (N, outC, H, W): eps = uncond + s·(cond − uncond) on the guided channels, in float32 like
 * PyTorch; every other channel conditional. `active[b]` false keeps image b fully conditional.
 */
export function combineGuidance(
  out: Float32Array,
  n: number,
  outChannels: number,
  planeSize: number,
  guidedChannels: number,
  scale: number,
  active: ArrayLike<boolean>,
): Float32Array {
  const imageSize = outChannels * planeSize;
  if (out.length !== 2 * n * imageSize) {
    throw new DitError(
      `model returned ${out.length} values for a doubled batch of ${2 * n} images × ${imageSize}; ` +
        `expected ${2 * n * imageSize} — check the model's output channels`,
    );
  }
  const result = out.slice(0, n * imageSize);
  const s = f32(scale);
  const guidedSize = guidedChannels * planeSize;
  for (let b = 0; b < n; b++) {
    if (!active[b]) continue;
    const cond = b * imageSize;
    const uncond = (n + b) * imageSize;
    for (let j = 0; j < guidedSize; j++) {
      const u = out[uncond + j];
      result[cond + j] = u + f32(s * f32(out[cond + j] - u));
    }
  }
  return result;
}

/**
 * Wraps the raw network into the ModelFn the samplers call. When a step needs no unconditional
 * branch (form `off`, scale exactly 1, or t outside the interval) only the conditional batch runs.
 */
export function guidedModel(spec: GuidedModelSpec): GuidedModel {
  validateGuidance(spec);
  const [n, , height, width] = spec.sampleShape;
  if (spec.labels.length !== n) {
    throw new DitError(`got ${spec.labels.length} labels for a batch of ${n} images; give one label per image`);
  }
  const planeSize = height * width;
  const guided = guidedChannelCount(spec.form, spec.inChannels, spec.outChannels);
  const labels = Int32Array.from(spec.labels);
  const doubledLabels = new Int32Array(2 * n);
  doubledLabels.set(labels);
  doubledLabels.fill(spec.nullClass, n);

  const model: ModelFn = async (x, t) => {
    const active = Array.from(t, (ti) => guidanceActive(spec, ti));
    if (!active.some(Boolean)) return spec.forward(x, t, labels, n);
    // forward_with_cfg's batch: [x, x] with [labels, null]; both halves see the same x.
    const doubledX = new Float32Array(2 * x.length);
    doubledX.set(x);
    doubledX.set(x, x.length);
    const doubledT = new Int32Array(2 * n);
    doubledT.set(t);
    doubledT.set(t, n);
    const out = await spec.forward(doubledX, doubledT, doubledLabels, 2 * n);
    return combineGuidance(out, n, spec.outChannels, planeSize, guided, spec.scale, active);
  };
  return Object.assign(model, { noiseBatch: officialNoiseBatch(spec.form, n) });
}
