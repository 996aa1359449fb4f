/**
 * PyTorch's CPU random generator, reproduced so that `--seed S` gives the very noise that
 * `torch.manual_seed(S); torch.randn(...)` gives (ATen: core/MT19937RNGEngine.h, CPUGeneratorImpl.cpp,
 * core/DistributionsHelper.h, core/TransformationHelper.h, native/cpu/DistributionTemplates.h).
 */
import { assert } from '../errors.js';

const STATE_N = 624;
const STATE_M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER_MASK = 0x80000000;
const LOWER_MASK = 0x7fffffff;

const TWO_POW_32 = 2 ** 32;
const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);

/** A stateful stream: consecutive draws continue where the previous one stopped, as in PyTorch. */
export interface TorchGenerator {
  /** Re-seeds like `torch.manual_seed(seed)` (also forgets the cached second Box–Muller value). */
  manualSeed(seed: number | bigint): void;
  /** One raw 32-bit mt19937 output (what ATen's `random()` returns). */
  nextUint32(): number;
  /** `torch.randn(shape)` for a contiguous float32 tensor of `count = prod(shape)` elements. */
  randn(count: number): Float32Array;
  /** `torch.randn(shape, dtype=torch.float64)` (also `randn_like` of a float64 tensor), `count = prod(shape)`. */
  randnDouble(count: number): Float64Array;
}

/** What the samplers need of a generator: `randn` draws (pipeline noise and per-step noise; float64 ones for REPA). */
export type NoiseSource = Pick<TorchGenerator, 'randn' | 'randnDouble'>;

/**
 * One generator per image, so that an image's noise depends on its own seed alone and never on
 * which other images share its batch (dit generate). Image b's stream is what a one-image run
 * seeded with `seeds[b]` draws: a draw of `count` values for an n-image batch is k = count / (n ·
 * imageNumel) whole batches (k = 2 for the doubled batch of CFG), and image b draws k·imageNumel
 * values from its own generator, exactly as `torch.manual_seed(seeds[b]); torch.randn(k, C, H, W)`;
 * its j-th image-sized part goes to slot j·n + b, the place of image b in the j-th half of the
 * doubled batch. So image b of such a batch equals `dit sample --seed seeds[b]` with its label alone.
 */
export function createImageGenerators(seeds: readonly (number | bigint)[], imageNumel: number): NoiseSource {
  assert(seeds.length >= 1 && Number.isInteger(imageNumel) && imageNumel >= 1, () => `createImageGenerators: ${seeds.length} seeds of ${imageNumel} values each`);
  const generators = seeds.map((s) => createTorchGenerator(s));
  const n = generators.length;
  function draw<A extends Float32Array | Float64Array>(count: number, make: (size: number) => A, own: (g: TorchGenerator, size: number) => A): A {
    assert(count % (n * imageNumel) === 0, () => `randn(${count}) does not cover whole batches of ${n} images × ${imageNumel} values`);
    const k = count / (n * imageNumel);
    const out = make(count);
    generators.forEach((g, b) => {
      const values = own(g, k * imageNumel);
      for (let j = 0; j < k; j++) out.set(values.subarray(j * imageNumel, (j + 1) * imageNumel), (j * n + b) * imageNumel);
    });
    return out;
  }
  return {
    randn: (count) => draw(count, (size) => new Float32Array(size), (g, size) => g.randn(size)),
    // REPA's float64 randn_like(x): the same split (x holds the N images, not a doubled batch).
    randnDouble: (count) => draw(count, (size) => new Float64Array(size), (g, size) => g.randnDouble(size)),
  };
}

/** Creates a generator seeded like `torch.manual_seed(seed)`. */
export function createTorchGenerator(seed: number | bigint): TorchGenerator {
  return new Mt19937Generator(seed);
}

/**
 * `torch.manual_seed` accepts any integer in [-2^63, 2^64 − 1] (a negative one is read as its
 * two's-complement uint64); mt19937 itself only keeps the low 32 bits, as ATen's init_with_uint32 does.
 */
export function torchSeedToUint32(seed: number | bigint): number {
  let big: bigint;
  if (typeof seed === 'bigint') {
    big = seed;
  } else {
    assert(Number.isSafeInteger(seed), () => `seed ${seed} is not a safe integer; use an integer in [-2^63, 2^64 - 1] (pass a bigint beyond 2^53)`);
    big = BigInt(seed);
  }
  assert(big >= INT64_MIN && big <= UINT64_MAX, () => `seed ${big} is out of range; torch.manual_seed accepts integers in [-2^63, 2^64 - 1]`);
  return Number(BigInt.asUintN(64, big) & 0xffffffffn);
}

class Mt19937Generator implements TorchGenerator {
  private readonly state = new Uint32Array(STATE_N);
  private next = 0;
  private left = 1;
  // Box–Muller yields two values; the per-element (double) path keeps the second for the next call.
  private cachedDoubleNormal: number | undefined;

  constructor(seed: number | bigint) {
    this.manualSeed(seed);
  }

  manualSeed(seed: number | bigint): void {
    const s = this.state;
    s[0] = torchSeedToUint32(seed);
    for (let j = 1; j < STATE_N; j++) {
      const prev = s[j - 1];
      s[j] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + j) >>> 0;
    }
    this.left = 1;
    this.next = 0;
    this.cachedDoubleNormal = undefined;
  }

  nextUint32(): number {
    if (--this.left === 0) this.twist();
    let y = this.state[this.next++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  randn(count: number): Float32Array {
    return this.normals(new Float32Array(this.checkedCount(count)), () => this.uniformFloat(), boxMuller16);
  }

  randnDouble(count: number): Float64Array {
    return this.normals(new Float64Array(this.checkedCount(count)), () => this.uniformDouble(), boxMuller16Double);
  }

  private checkedCount(count: number): number {
    assert(Number.isInteger(count) && count >= 0, () => `randn count ${count} is invalid; it must be a non-negative integer`);
    return count;
  }

  /**
   * normal_kernel: below 16 values, one normal_distribution<double> per value; from 16 on,
   * normal_fill in the tensor's dtype (float: 24-bit uniforms and float32 arithmetic; double:
   * 53-bit uniforms and double arithmetic). normal_fill draws every uniform first, then Box–Muller
   * on blocks of 16 (pairs j, j + 8); a trailing partial block is recomputed from 16 fresh uniforms
   * over the last 16 slots, overwriting values the last full block already produced.
   */
  private normals<A extends Float32Array | Float64Array>(data: A, uniform: () => number, boxMuller: (data: A, offset: number) => void): A {
    const size = data.length;
    if (size < 16) {
      for (let i = 0; i < size; i++) data[i] = this.nextDoubleNormal();
      return data;
    }
    for (let i = 0; i < size; i++) data[i] = uniform();
    for (let i = 0; i + 16 <= size; i += 16) boxMuller(data, i);
    if (size % 16 !== 0) {
      const start = size - 16;
      for (let i = 0; i < 16; i++) data[start + i] = uniform();
      boxMuller(data, start);
    }
    return data;
  }

  private twist(): void {
    const s = this.state;
    const mixTwist = (u: number, v: number): number => {
      const y = (u & UPPER_MASK) | (v & LOWER_MASK);
      return (y >>> 1) ^ (v & 1 ? MATRIX_A : 0);
    };
    let k = 0;
    for (; k < STATE_N - STATE_M; k++) s[k] = s[k + STATE_M] ^ mixTwist(s[k], s[k + 1]);
    for (; k < STATE_N - 1; k++) s[k] = s[k + STATE_M - STATE_N] ^ mixTwist(s[k], s[k + 1]);
    s[STATE_N - 1] = s[STATE_M - 1] ^ mixTwist(s[STATE_N - 1], s[0]);
    this.left = STATE_N;
    this.next = 0;
  }

  /** uniform_real_distribution<float>: the low 24 bits of one output, exact in float32. */
  private uniformFloat(): number {
    return (this.nextUint32() & 0xffffff) / 0x1000000;
  }

  /** uniform_real_distribution<double>: the low 53 bits of random64() = (first << 32) | second. */
  private uniformDouble(): number {
    const hi = this.nextUint32();
    const lo = this.nextUint32();
    return ((hi & 0x1fffff) * TWO_POW_32 + lo) / 2 ** 53;
  }

  /** at::normal_distribution<double>, used for tensors of fewer than 16 elements. */
  private nextDoubleNormal(): number {
    if (this.cachedDoubleNormal !== undefined) {
      const cached = this.cachedDoubleNormal;
      this.cachedDoubleNormal = undefined;
      return cached;
    }
    const u1 = this.uniformDouble();
    const u2 = this.uniformDouble();
    const r = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    this.cachedDoubleNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
}

function boxMuller16Double(data: Float64Array, offset: number): void {
  for (let j = 0; j < 8; j++) {
    const radius = Math.sqrt(-2 * Math.log(1 - data[offset + j]));
    const theta = 2 * Math.PI * data[offset + j + 8];
    data[offset + j] = radius * Math.cos(theta);
    data[offset + j + 8] = radius * Math.sin(theta);
  }
}

const f32 = Math.fround;

function boxMuller16(data: Float32Array, offset: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = f32(1 - data[offset + j]); // [0, 1) → (0, 1] so the log is finite
    const u2 = data[offset + j + 8];
    const radius = f32(Math.sqrt(f32(-2 * f32(Math.log(u1)))));
    const theta = f32(2 * Math.PI * u2);
    data[offset + j] = radius * f32(Math.cos(theta));
    data[offset + j + 8] = radius * f32(Math.sin(theta));
  }
}
