/**
 * The AutoencoderKL decoder (diffusers `AutoencoderKL.decode`, docs/REFERENCE.md §6) as an ONNX graph,
 * built from canonical weights (diffusers' new naming: to_q/to_k/to_v/to_out.0) with graph/.
 *
 *   latents (N, 4, h, w)                        DiT's latent space, as the sampler returns it
 *   ÷ scaling_factor                            inside the graph: one Div, exactly torch's `z / 0.18215`
 *   post_quant_conv 1×1 → decoder.conv_in 3×3   (N, C_top, h, w), C_top = block_out_channels[-1]
 *   mid: resnet → attention (1 head over h·w) → resnet
 *   up_blocks[i], i = 0..B-1 over reversed(block_out_channels):
 *     layers_per_block + 1 resnets; nearest ×2 + 3×3 conv except in the last block
 *   GroupNorm → SiLU → conv_out 3×3             image (N, 3, 8h, 8w) for B = 4, roughly in [-1, 1]
 *
 * The scale division lives in the graph so that every caller (pipeline, `dit decode`) hands over
 * latents unchanged and nobody can apply it twice or forget it.
 *
 * "Nearest ×2, then 3×3 conv" is computed by default as four 2×2 convolutions of the small input,
 * one per output pixel phase, then interleaved: the same sums with 4 instead of 9 multiply-adds
 * per output pixel (SD VAE at 32×32: 263 G instead of 311 G in all).
 *
 * GroupNorm is written as reshape (N, G, -1) → InstanceNormalization (unit scale, zero bias) →
 * reshape back → per-channel affine: InstanceNormalization exists on every execution provider, while
 * ONNX GroupNormalization (opset 18) and com.microsoft.GroupNorm do not.
 */
import { assert, UsageError } from '../errors.js';
import type { LazyTensor } from '../checkpoint/types.js';
import { GraphBuilder, toFloat16, type ElemType, type Graph, type Value } from '../graph/index.js';
import { vaeDecoderParameterShapes, vaeUpscale, type VaeConfig, type VaeDtype } from './vae-config.js';
import { castOnce, DEFAULT_VAE_FP16_FP32_PARTS, storedWeight, type VaeFp16Part } from './fp16.js';

export interface VaeDecoderOptions {
  /** Latent height and width (image size / 8 for four blocks); convolution shapes are static. */
  readonly latentHeight: number;
  readonly latentWidth: number;
  /** A fixed batch size, or omit for a symbolic batch dim "N". */
  readonly batch?: number;
  /** Latents are divided by this first; default config.scaling_factor. */
  readonly scalingFactor?: number;
  /**
   * How "nearest ×2, then 3×3 conv" is computed: 'resize' as written; 'phases' (default) as four
   * 2×2 convolutions on the small input, one per output pixel phase, interleaved afterwards. Both
   * are the same sum; phases does 4 instead of 9 multiply-adds per output pixel and skips the
   * upsampled tensor.
   */
  readonly upsample?: 'resize' | 'phases';
  /**
   * 'fp32' (default, exact) or 'fp16': float16 weights and compute with the parts in `fp16KeepFp32`
   * in fp32 (fp16.ts). The latents input and the image output stay float32.
   */
  readonly dtype?: VaeDtype;
  /** With fp16, the parts kept in fp32 (default DEFAULT_VAE_FP16_FP32_PARTS). */
  readonly fp16KeepFp32?: readonly VaeFp16Part[];
}

/** GroupNorm eps in every AutoencoderKL decoder norm (resnets, attention, conv_norm_out). */
const GROUP_NORM_EPS = 1e-6;

/**
 * Multiply-adds of one decode at latent size h×w as diffusers computes it (upsampling by resize):
 * every convolution, the attention's projections and its two (HW × HW × C) products; norms and
 * elementwise ops are not counted. SD VAE at 32×32: 311 G, the figure benchmarks quote.
 */
/**
 * Peak working memory of decoding ONE latent of h×w, in bytes, as an estimate that errs high: the
 * mid-block's single-head attention holds an (hw × hw) score matrix and its softmax (float32), and
 * the widest full-resolution stage a few (C0 × fh × fw) activations. The attention term grows with
 * the fourth power of the side: a 160×160 latent needs about 5 GB, a 32×32 one (256 px) 40 MB.
 */
export function vaeDecodeBytes(config: VaeConfig, h: number, w: number): number {
  const f = vaeUpscale(config);
  const attention = 2 * (h * w) ** 2 * 4;
  const activations = 4 * config.block_out_channels[0]! * (f * h) * (f * w) * 4;
  return attention + activations;
}

export function vaeDecoderMacs(config: VaeConfig, h: number, w: number): number {
  let macs = 0;
  const shapes = vaeDecoderParameterShapes(config);
  const reversed = [...config.block_out_channels].reverse();
  const convAt = (name: string, pixels: number) => {
    const [out, inC, kh, kw] = shapes.get(`${name}.weight`)!;
    macs += out * inC * kh * kw * pixels;
  };
  const resnetAt = (name: string, pixels: number) => {
    for (const part of ['conv1', 'conv2', 'conv_shortcut']) if (shapes.has(`${name}.${part}.weight`)) convAt(`${name}.${part}`, pixels);
  };
  let pixels = h * w;
  convAt('post_quant_conv', pixels);
  convAt('decoder.conv_in', pixels);
  resnetAt('decoder.mid_block.resnets.0', pixels);
  const c = reversed[0];
  macs += 4 * c * c * pixels + 2 * pixels * pixels * c; // q, k, v, out projections; scores and weighted sum
  resnetAt('decoder.mid_block.resnets.1', pixels);
  reversed.forEach((_, i) => {
    for (let j = 0; j <= config.layers_per_block; j++) resnetAt(`decoder.up_blocks.${i}.resnets.${j}`, pixels);
    if (i < reversed.length - 1) {
      pixels *= 4;
      convAt(`decoder.up_blocks.${i}.upsamplers.0.conv`, pixels);
    }
  });
  convAt('decoder.conv_out', pixels);
  return macs;
}

/**
 * Configs come from checkpoint/vae.ts (config.json values and the channels the weights have are
 * checked where the file is read: positive counts, groups that divide every level's channels, a
 * positive scaling factor) or from SD_VAE_CONFIG; the latent size from the VAE session, which
 * refuses an empty latent. A config or size that breaks these here is a bug.
 */
function checkConfig(config: VaeConfig, options: VaeDecoderOptions): number {
  const { block_out_channels: boc, norm_num_groups: groups } = config;
  assert(boc.length > 0 && boc.every((c) => Number.isInteger(c) && c >= 1 && c % groups === 0), () => `VAE block_out_channels [${boc.join(', ')}] must be positive multiples of norm_num_groups ${groups}`);
  for (const [what, v] of [['latentHeight', options.latentHeight], ['latentWidth', options.latentWidth]] as const) {
    assert(Number.isInteger(v) && v >= 1, () => `VAE decoder ${what} ${v} must be a whole number ≥ 1`);
  }
  const scalingFactor = options.scalingFactor ?? config.scaling_factor;
  assert(scalingFactor > 0, () => `VAE scaling_factor ${scalingFactor} must be > 0`);
  return scalingFactor;
}

/** Checks that `weights` holds every decoder tensor with its shape; lists all problems at once. */
function checkWeights(config: VaeConfig, weights: ReadonlyMap<string, LazyTensor>): void {
  const problems: string[] = [];
  for (const [name, shape] of vaeDecoderParameterShapes(config)) {
    const t = weights.get(name);
    if (!t) {
      problems.push(`missing ${name} ${JSON.stringify(shape)}`);
      continue;
    }
    const linearAsConv = shape.length === 2 && t.shape.length === 4 && t.shape[2] === 1 && t.shape[3] === 1;
    const got = linearAsConv ? t.shape.slice(0, 2) : t.shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      problems.push(`${name} has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 8).join('; ');
    const more = problems.length > 8 ? `; and ${problems.length - 8} more` : '';
    throw new UsageError(
      `VAE weights do not fit the config (block_out_channels [${config.block_out_channels.join(', ')}], layers_per_block ${config.layers_per_block}, ` +
        `latent_channels ${config.latent_channels}): ${shown}${more}. Check that config.json belongs to this weights file.`,
    );
  }
}

/** Builds the decoder graph: input `latents` (N, latent_channels, h, w), output `image` (N, out_channels, h·f, w·f). */
export function buildVaeDecoder(config: VaeConfig, weights: ReadonlyMap<string, LazyTensor>, options: VaeDecoderOptions): Graph {
  const scalingFactor = checkConfig(config, options);
  checkWeights(config, weights);
  const g = new GraphBuilder({ name: 'vae_decoder' });
  const groups = config.norm_num_groups;
  const keep32 = new Set(options.fp16KeepFp32 ?? DEFAULT_VAE_FP16_FP32_PARTS);
  /** Element type of a part, or of the float16 bulk (no part): float32 except under fp16. */
  const typeOf = (part?: VaeFp16Part): ElemType => (options.dtype === 'fp16' && (part === undefined || !keep32.has(part)) ? 'float16' : 'float32');
  const BT = typeOf(); // the resnets, upsamplers, attention projections and the residual stream
  const as = castOnce(g);
  const tensor = (name: string) => weights.get(name)!;
  const param = (name: string, dt: ElemType): Value => {
    const t = tensor(name);
    return storedWeight(g, name, t.shape, () => t.toFloat32(), dt);
  };
  /** A (C) vector as (C, 1, 1), to broadcast over (N, C, H, W). */
  const channelParam = (name: string, dt: ElemType): Value => {
    const t = tensor(name);
    return storedWeight(g, name, [t.shape[0], 1, 1], () => t.toFloat32(), dt);
  };

  const conv = (x: Value, name: string, dt = BT): Value => {
    const k = tensor(`${name}.weight`).shape[2];
    const pad = (k - 1) / 2; // 3×3 convs pad 1, 1×1 pad 0: spatial size is kept everywhere
    return g.scope(name, () => g.conv(as(x, dt), param(`${name}.weight`, dt), param(`${name}.bias`, dt), { pads: [pad, pad, pad, pad] }));
  };

  /**
   * up = nearest×2(x); y = conv3×3(up, pad 1). Output row 2i+py reads up rows 2i+py−1..2i+py+1,
   * i.e. x rows {i−1, i} for py = 0 (kernel rows 0 | 1+2) and {i, i+1} for py = 1 (rows 0+1 | 2);
   * columns alike. So each phase is a 2×2 conv of x with summed taps and a one-sided zero pad.
   */
  const upsampleConv = (x: Value, name: string): Value =>
    g.scope(name, () => {
      const [, c, h, w] = x.shape as [number | string, number, number, number];
      const weight = tensor(`${name}.weight`);
      const out = weight.shape[0];
      const bias = param(`${name}.bias`, BT);
      let full: Float32Array | undefined; // (out, c, 3, 3), read once for the four phases, when the model is written
      const taps = [[[0], [1, 2]], [[0, 1], [2]]]; // taps[phase][offset] = kernel rows (or columns) summed
      const phases: Value[] = [];
      for (const py of [0, 1]) {
        for (const px of [0, 1]) {
          const k = storedWeight(g, `${name}.phase${py}${px}.weight`, [out, c, 2, 2], () => {
            full ??= weight.toFloat32();
            const small = new Float32Array(out * c * 4);
            for (let oc = 0; oc < out * c; oc++)
              for (let dy = 0; dy < 2; dy++)
                for (let dx = 0; dx < 2; dx++) {
                  let sum = 0;
                  for (const ky of taps[py][dy]) for (const kx of taps[px][dx]) sum += full![oc * 9 + ky * 3 + kx];
                  small[oc * 4 + dy * 2 + dx] = sum;
                }
            if (py === 1 && px === 1) full = undefined;
            return small;
          }, BT);
          const pads = [py === 0 ? 1 : 0, px === 0 ? 1 : 0, py === 1 ? 1 : 0, px === 1 ? 1 : 0];
          phases.push(g.conv(as(x, BT), k, bias, { pads }, `phase${py}${px}`)); // (N, out, h, w)
        }
      }
      // channels (py·2 + px)·out + c → pixel (2i + py, 2j + px): DepthToSpace in DCR order
      const stacked = g.reshape(g.concat(phases, 1), [0, 2, 2, out, h, w]);
      return g.reshape(g.transpose(stacked, [0, 3, 4, 1, 5, 2]), [0, out, 2 * h, 2 * w]);
    });

  const ones = new Map<string, [Value, Value]>();
  const unitAffine = (n: number, dt: ElemType): [Value, Value] => {
    const key = `${n}:${dt}`;
    if (!ones.has(key)) {
      const fill = (v: number, name: string) => (dt === 'float32' ? g.float32(new Array(n).fill(v), [n], name) : g.initializer(`${name}16`, dt, [n], toFloat16(new Float32Array(n).fill(v))));
      ones.set(key, [fill(1, 'ones'), fill(0, 'zeros')]);
    }
    return ones.get(key)!;
  };
  /** GroupNorm computed in `dt` (its statistics and affine); the result stays in `dt`. */
  const groupNorm = (x: Value, name: string, dt = typeOf('groupNorm')): Value =>
    g.scope(name, () => {
      const [, c, h, w] = x.shape as [number | string, number, number, number];
      const [scale, bias] = unitAffine(groups, dt);
      const grouped = g.reshape(as(x, dt), [0, groups, -1]); // (N, G, C/G·H·W)
      const normed = g.reshape(g.instanceNorm(grouped, scale, bias, GROUP_NORM_EPS), [0, c, h, w]);
      return g.add(g.mul(normed, channelParam(`${name}.weight`, dt)), channelParam(`${name}.bias`, dt));
    });

  const resnet = (x: Value, name: string): Value =>
    g.scope(name, () => {
      let h = conv(g.silu(groupNorm(x, `${name}.norm1`)), `${name}.conv1`);
      h = conv(g.silu(groupNorm(h, `${name}.norm2`)), `${name}.conv2`);
      const shortcut = x.shape[1] !== h.shape[1] ? conv(x, `${name}.conv_shortcut`) : as(x, BT);
      return g.add(shortcut, h);
    });

  /**
   * Single-head self-attention over the h·w positions, kept channel-first: q, k, v come from one
   * 1×1 convolution with the three Linear weights stacked (and head_dim^-0.5 folded into q), so no
   * transposes of the activations are needed besides qᵀ and the attention matrix.
   */
  const attention = (x: Value, name: string): Value =>
    g.scope(name, () => {
      const [, c, h, w] = x.shape as [number | string, number, number, number];
      const scale = 1 / Math.sqrt(c);
      const linear = (p: string) => tensor(`${name}.${p}.weight`).toFloat32().subarray(0, c * c);
      const qkvWeight = storedWeight(g, `${name}.qkv.weight`, [3 * c, c, 1, 1], () => {
        const out = new Float32Array(3 * c * c);
        out.set(linear('to_q').map((v) => v * scale), 0);
        out.set(linear('to_k'), c * c);
        out.set(linear('to_v'), 2 * c * c);
        return out;
      }, BT);
      const qkvBias = storedWeight(g, `${name}.qkv.bias`, [3 * c], () => {
        const out = new Float32Array(3 * c);
        out.set(tensor(`${name}.to_q.bias`).toFloat32().map((v) => v * scale), 0);
        out.set(tensor(`${name}.to_k.bias`).toFloat32(), c);
        out.set(tensor(`${name}.to_v.bias`).toFloat32(), 2 * c);
        return out;
      }, BT);
      const normed = groupNorm(x, `${name}.group_norm`);
      const qkv = g.reshape(g.conv(as(normed, BT), qkvWeight, qkvBias), [0, 3 * c, h * w]); // (N, 3C, HW)
      const AT = typeOf('attention');
      const [q, k, v] = g.split(as(qkv, AT), [c, c, c], 1); // each (N, C, HW)
      const scores = g.matMul(g.transpose(q, [0, 2, 1]), k); // (N, HW_q, HW_k)
      const probs = g.softmax(scores, -1);
      const attended = as(g.matMul(v, g.transpose(probs, [0, 2, 1])), BT); // (N, C, HW_q)
      const outWeight = storedWeight(g, `${name}.to_out.0.weight`, [c, c, 1, 1], () => linear('to_out.0'), BT);
      const projected = g.conv(g.reshape(attended, [0, c, h, w]), outWeight, param(`${name}.to_out.0.bias`, BT));
      return g.add(as(x, BT), projected);
    });

  const batch = options.batch ?? 'N';
  const latents = g.input('latents', 'float32', [batch, config.latent_channels, options.latentHeight, options.latentWidth]);
  let x = g.div(latents, g.float32([scalingFactor], [], 'scaling_factor'));
  x = conv(x, 'post_quant_conv', typeOf('convIn'));
  x = conv(x, 'decoder.conv_in', typeOf('convIn'));
  x = resnet(x, 'decoder.mid_block.resnets.0');
  x = attention(x, 'decoder.mid_block.attentions.0');
  x = resnet(x, 'decoder.mid_block.resnets.1');
  const blocks = config.block_out_channels.length;
  for (let i = 0; i < blocks; i++) {
    for (let j = 0; j <= config.layers_per_block; j++) x = resnet(x, `decoder.up_blocks.${i}.resnets.${j}`);
    if (i < blocks - 1) {
      const name = `decoder.up_blocks.${i}.upsamplers.0.conv`;
      x = options.upsample === 'resize' ? conv(g.resizeNearest(x, 2), name) : upsampleConv(x, name);
    }
  }
  const OT = keep32.has('convOut') ? 'float32' : typeOf('groupNorm');
  x = conv(g.silu(groupNorm(x, 'decoder.conv_norm_out', OT)), 'decoder.conv_out', typeOf('convOut'));
  g.output(as(x, 'float32'), 'image');
  return g.finish();
}
