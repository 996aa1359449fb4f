/**
 * The Dormand–Prince 5(4) solver exactly as torchdiffeq's `odeint(method="dopri5")` runs it
 * (rtqichen/torchdiffeq, _impl/rk_common.py, dopri5.py, misc.py, interp.py), so that SiT's ODE
 * sampler takes the same steps and evaluates its model the same number of times:
 *
 * - time-like values (t, dt, tolerances, error norms) in float64, the state and the stages in
 *   float32 (each stage's t is its float64 value rounded to float32; the stages at the step's end
 *   see the float32 just below it, torchdiffeq's Perturb.PREV);
 * - the first step from Hairer's heuristic (`_select_initial_step`, one extra evaluation);
 * - error ratio = RMS of err / (atol + rtol·max(|y0|, |y1|)); accept when ≤ 1; next step
 *   dt·min(10, max(0.9·ratio^(−1/5), 0.2)) (no shrinking after an accepted step);
 * - steps run past the last requested time; outputs come from the 4th-order interpolant of the
 *   step that covers each time (`_interp_fit` / `_interp_evaluate`).
 *
 * Function evaluations: 2 before the first step, then 6 per attempted step (accepted or rejected).
 */
import { assert } from '../../errors.js';
import { nextDown32 } from '../flow.js';

const f32 = Math.fround;

/** dy/dt at (t, y): t is the float32 time the official solver passes; y must not be modified. */
export type OdeFunction = (t: number, y: Float32Array) => Promise<Float32Array>;

export interface Dopri5Options {
  readonly atol: number;
  readonly rtol: number;
  readonly signal?: AbortSignal;
  /** After each accepted step (for progress): the step's end time. */
  readonly onAcceptedStep?: (t1: number) => void;
  /** Each requested time's value as soon as it is known (index ≥ 1; index 0 is y0). */
  readonly onOutput?: (index: number, t: number, y: Float32Array) => void;
}

// Dormand–Prince (Shampine) tableau; the coefficients are float32 tensors in torchdiffeq.
const ALPHA = [1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1].map(f32);
const BETA = [
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
  [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
].map((row) => row.map(f32));
const C_ERROR = [
  35 / 384 - 1951 / 21600,
  0,
  500 / 1113 - 22642 / 50085,
  125 / 192 - 451 / 720,
  -2187 / 6784 - -12231 / 42400,
  11 / 84 - 649 / 6300,
  -1 / 60,
].map(f32);
const C_MID = [
  6025192743 / 30085553152 / 2,
  0,
  51252292925 / 65400821598 / 2,
  -2691868925 / 45128329728 / 2,
  187940372067 / 1594534317056 / 2,
  -1776094331 / 19743644256 / 2,
  11237099 / 235043384 / 2,
].map(f32);
const ORDER = 5;
const SAFETY = 0.9;
const IFACTOR = 10;
const DFACTOR = 0.2;

/** RMS norm in float64: `tensor.abs().pow(2).mean().sqrt()`. */
function rmsOf(size: number, value: (i: number) => number): number {
  let sum = 0;
  for (let i = 0; i < size; i++) {
    const v = value(i);
    sum += v * v;
  }
  return Math.sqrt(sum / size);
}

/**
 * `torch.sum(terms, dim=-1)` of a short contiguous float32 row, in ATen's order (SumKernel.cpp
 * `row_sum`, float accumulators): four interleaved partial sums over columns k, k + 4, …, the
 * leftover columns added to the first, then the four partials in order. Exact for rows < 64.
 */
function rowSum32(terms: readonly number[]): number {
  const groups = Math.floor(terms.length / 4);
  const partial = [0, 0, 0, 0];
  for (let i = 0; i < groups; i++) for (let k = 0; k < 4; k++) partial[k] = f32(partial[k] + terms[4 * i + k]);
  for (let i = 4 * groups; i < terms.length; i++) partial[0] = f32(partial[0] + terms[i]);
  return f32(f32(f32(partial[0] + partial[1]) + partial[2]) + partial[3]);
}

/** y0 + Σ_j k_j·(w_j·dt) over the first `count` stages, in float32 as torchdiffeq computes it. */
function combine(y0: Float32Array, k: readonly Float32Array[], weights: readonly number[], dt32: number, count: number): Float32Array {
  const w = weights.slice(0, count).map((c) => f32(c * dt32));
  const out = new Float32Array(y0.length);
  const terms = new Array<number>(count);
  for (let e = 0; e < y0.length; e++) {
    for (let j = 0; j < count; j++) terms[j] = f32(k[j][e] * w[j]);
    out[e] = f32(y0[e] + rowSum32(terms));
  }
  return out;
}

interface RkState {
  readonly y1: Float32Array;
  readonly f1: Float32Array;
  readonly t0: number;
  readonly t1: number;
  readonly dt: number;
  readonly interp: readonly Float32Array[]; // [e, d, c, b, a]
}

async function selectInitialStep(f: OdeFunction, t0: number, y0: Float32Array, f0: Float32Array, atol: number, rtol: number): Promise<number> {
  const n = y0.length;
  const scale = Float64Array.from(y0, (v) => atol + Math.abs(v) * rtol);
  const d0 = rmsOf(n, (i) => y0[i] / scale[i]);
  const d1 = rmsOf(n, (i) => f0[i] / scale[i]);
  const h0 = d0 < 1e-5 || d1 < 1e-5 ? f32(1e-6) : (0.01 * d0) / d1;
  const h032 = f32(h0);
  const y1 = Float32Array.from(y0, (v, i) => f32(v + f32(h032 * f0[i])));
  const f1 = await f(f32(t0 + h0), y1);
  const d2 = Math.abs(rmsOf(n, (i) => f32(f1[i] - f0[i]) / scale[i]) / h0);
  const h1 = d1 <= 1e-15 && d2 <= 1e-15 ? Math.max(1e-6, h0 * 1e-3) : (0.01 / Math.max(d1, d2)) ** (1 / (ORDER - 1 + 1));
  return Math.min(100 * h0, h1);
}

function interpFit(y0: Float32Array, y1: Float32Array, k: readonly Float32Array[], dt32: number): Float32Array[] {
  const yMid = combine(y0, k, C_MID, dt32, 7);
  const f0 = k[0];
  const f1 = k[6];
  const n = y0.length;
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  const c = new Float32Array(n);
  const d = new Float32Array(n);
  const twoDt = f32(2 * dt32);
  for (let e = 0; e < n; e++) {
    a[e] = f32(f32(f32(twoDt * f32(f1[e] - f0[e])) - f32(8 * f32(y1[e] + y0[e]))) + f32(16 * yMid[e]));
    b[e] = f32(
      f32(f32(f32(dt32 * f32(f32(5 * f0[e]) - f32(3 * f1[e]))) + f32(18 * y0[e])) + f32(14 * y1[e])) - f32(32 * yMid[e]),
    );
    c[e] = f32(f32(f32(f32(dt32 * f32(f1[e] - f32(4 * f0[e]))) - f32(11 * y0[e])) - f32(5 * y1[e])) + f32(16 * yMid[e]));
    d[e] = f32(dt32 * f0[e]);
  }
  return [Float32Array.from(y0), d, c, b, a];
}

function interpEvaluate(coeffs: readonly Float32Array[], t0: number, t1: number, t: number): Float32Array {
  assert(t0 <= t && t <= t1, () => `dopri5 interpolation at ${t} outside its step [${t0}, ${t1}]`);
  const x = f32((t - t0) / (t1 - t0));
  const total = Float32Array.from(coeffs[0], (v, e) => f32(v + f32(x * coeffs[1][e])));
  let power = x;
  for (const coeff of coeffs.slice(2)) {
    power = f32(power * x);
    for (let e = 0; e < total.length; e++) total[e] = f32(total[e] + f32(power * coeff[e]));
  }
  return total;
}

async function adaptiveStep(f: OdeFunction, state: RkState, atol: number, rtol: number): Promise<RkState> {
  const { y1: y0, f1: f0, t1: t0, interp } = state;
  const dt = Number.isFinite(state.dt) ? Math.max(state.dt, 0) : 0;
  const t1 = t0 + dt;
  assert(t1 > t0, () => `dopri5: underflow in dt ${dt}`);
  assert(y0.every(Number.isFinite), 'dopri5: non-finite values in the state');

  const t032 = f32(t0);
  const dt32 = f32(dt);
  const t132 = f32(t1);
  const k: Float32Array[] = [f0];
  let yi = y0;
  for (let i = 0; i < ALPHA.length; i++) {
    const ti = ALPHA[i] === 1 ? nextDown32(t132) : f32(t032 + f32(ALPHA[i] * dt32));
    yi = combine(y0, k, BETA[i], dt32, i + 1);
    k.push(await f(ti, yi));
  }
  const y1 = yi; // Dormand–Prince: the last stage's input is the 5th-order solution (FSAL)
  const f1 = k[6];
  const errW = C_ERROR.map((c) => f32(dt32 * c));
  const terms = new Array<number>(7);
  const ratio = rmsOf(y0.length, (e) => {
    for (let j = 0; j < 7; j++) terms[j] = f32(k[j][e] * errW[j]);
    return rowSum32(terms) / (atol + rtol * Math.max(Math.abs(y0[e]), Math.abs(y1[e])));
  });
  const accept = ratio <= 1;

  let factor: number;
  if (ratio === 0) factor = IFACTOR;
  else factor = Math.min(IFACTOR, Math.max(SAFETY / ratio ** (1 / ORDER), ratio < 1 ? 1 : DFACTOR));
  const dtNext = Math.max(dt * factor, 0);
  if (!accept) return { y1: y0, f1: f0, t0, t1: t0, dt: dtNext, interp };
  return { y1, f1, t0, t1, dt: dtNext, interp: interpFit(y0, y1, k, dt32) };
}

/**
 * `odeint(f, y0, times, method="dopri5", atol, rtol)`: the solution at each of `times` (strictly
 * increasing float64 values; SiT passes a float32 linspace), the first being y0 itself.
 */
export async function odeintDopri5(f: OdeFunction, y0: Float32Array, times: readonly number[], options: Dopri5Options): Promise<Float32Array[]> {
  const { atol, rtol, signal } = options;
  assert(times.length >= 1 && times.every((t, i) => i === 0 || t > times[i - 1]), 'dopri5 times must be strictly increasing');
  assert(atol >= 0 && rtol >= 0, () => `dopri5 tolerances atol ${atol}, rtol ${rtol} must be ≥ 0`);
  const out: Float32Array[] = [Float32Array.from(y0)];
  const f0 = await f(f32(times[0]), y0);
  const firstStep = await selectInitialStep(f, times[0], y0, f0, atol, rtol);
  let state: RkState = { y1: y0, f1: f0, t0: times[0], t1: times[0], dt: firstStep, interp: [y0, y0, y0, y0, y0] };
  for (let i = 1; i < times.length; i++) {
    while (times[i] > state.t1) {
      signal?.throwIfAborted();
      const before = state.t1;
      state = await adaptiveStep(f, state, atol, rtol);
      if (state.t1 !== before) options.onAcceptedStep?.(state.t1);
    }
    const y = interpEvaluate(state.interp, state.t0, state.t1, times[i]);
    out.push(y);
    options.onOutput?.(i, times[i], y);
  }
  return out;
}
