/**
 * AutoencoderKL hyper-parameters (diffusers names, as in a VAE folder's config.json) and the
 * canonical weight names the decoder graph reads.
 *
 * Canonical names are diffusers' current naming; checkpoint/vae.ts maps the 2022 attention names
 * (query/key/value/proj_attn) and the original LDM names (first_stage_model.decoder.up.{3-i}...)
 * onto them. Decoder weights, in graph order (C = block_out_channels, R = reversed C, n = levels,
 * L = latent_channels, O = out_channels):
 *
 *   post_quant_conv.{weight [L, L, 1, 1], bias}
 *   decoder.conv_in.{weight [R0, L, 3, 3], bias}
 *   decoder.mid_block.resnets.0.*                      resnet R0 → R0 (see below)
 *   decoder.mid_block.attentions.0.group_norm.{weight, bias} [R0]
 *   decoder.mid_block.attentions.0.to_q|to_k|to_v.{weight [R0, R0], bias}   Linear, single head
 *   decoder.mid_block.attentions.0.to_out.0.{weight [R0, R0], bias}
 *   decoder.mid_block.resnets.1.*
 *   decoder.up_blocks.{i}.resnets.{j}.*   i = 0..n-1, j = 0..layers_per_block; in = (j = 0 ? R[i-1] (R0 for i = 0) : R[i]), out = R[i]
 *   decoder.up_blocks.{i}.upsamplers.0.conv.{weight [R[i], R[i], 3, 3], bias}   all but the last level (nearest ×2 first)
 *   decoder.conv_norm_out.{weight, bias} [C0]
 *   decoder.conv_out.{weight [O, C0, 3, 3], bias}
 *
 * A resnet in → out: norm1.{weight, bias} [in], conv1.{weight [out, in, 3, 3], bias}, norm2 [out],
 * conv2.{weight [out, out, 3, 3], bias}, and conv_shortcut.{weight [out, in, 1, 1], bias} when
 * in ≠ out. GroupNorm eps is 1e-6 everywhere. Encoder weights (encoder.*, quant_conv.*) keep the
 * same naming scheme and are passed through when present.
 */
export interface VaeConfig {
  readonly in_channels: number; // image channels the encoder takes (3)
  readonly out_channels: number; // image channels the decoder produces (3)
  readonly block_out_channels: readonly number[]; // channels per resolution level, encoder order
  readonly layers_per_block: number; // resnets per encoder level; decoder levels have one more
  readonly latent_channels: number; // 4 for the SD VAE
  readonly norm_num_groups: number; // GroupNorm groups (32 for the SD VAE)
  readonly scaling_factor: number; // latents are divided by this before decoding (0.18215)
}

/**
 * Precisions the decoder graph is built in: fp32 (exact) and fp16 (float16 weights and compute, a
 * few parts in fp32; see models/fp16.ts). q8 is a DiT precision only: int8 convolutions gain too
 * little on ONNX Runtime's CPU kernels (bench/vae-q8.ts; runtime/devices.ts VAE_DTYPE).
 */
export const VAE_DTYPES = ['fp32', 'fp16'] as const;
export type VaeDtype = (typeof VAE_DTYPES)[number];

/** stabilityai/sd-vae-ft-ema and -mse. */
export const SD_VAE_CONFIG: VaeConfig = {
  in_channels: 3,
  out_channels: 3,
  block_out_channels: [128, 256, 512, 512],
  layers_per_block: 2,
  latent_channels: 4,
  norm_num_groups: 32,
  scaling_factor: 0.18215,
};

/** Image size factor of a decoder: one ×2 upsample per block but the last (8 for the SD VAE). */
export function vaeUpscale(config: VaeConfig): number {
  return 2 ** (config.block_out_channels.length - 1);
}

/** Every decoder weight (and post_quant_conv) with its shape, in the order the graph uses them. */
export function vaeDecoderParameterShapes(c: VaeConfig): Map<string, number[]> {
  const s = new Map<string, number[]>();
  const L = c.latent_channels;
  const R = [...c.block_out_channels].reverse();
  const pair = (name: string, weight: number[]): void => {
    s.set(`${name}.weight`, weight);
    s.set(`${name}.bias`, [weight[0]!]);
  };
  const resnet = (name: string, cin: number, cout: number): void => {
    pair(`${name}.norm1`, [cin]);
    pair(`${name}.conv1`, [cout, cin, 3, 3]);
    pair(`${name}.norm2`, [cout]);
    pair(`${name}.conv2`, [cout, cout, 3, 3]);
    if (cin !== cout) pair(`${name}.conv_shortcut`, [cout, cin, 1, 1]);
  };
  pair('post_quant_conv', [L, L, 1, 1]);
  pair('decoder.conv_in', [R[0]!, L, 3, 3]);
  resnet('decoder.mid_block.resnets.0', R[0]!, R[0]!);
  const attn = 'decoder.mid_block.attentions.0';
  pair(`${attn}.group_norm`, [R[0]!]);
  for (const p of ['to_q', 'to_k', 'to_v', 'to_out.0']) pair(`${attn}.${p}`, [R[0]!, R[0]!]);
  resnet('decoder.mid_block.resnets.1', R[0]!, R[0]!);
  for (let i = 0; i < R.length; i++) {
    for (let j = 0; j <= c.layers_per_block; j++) resnet(`decoder.up_blocks.${i}.resnets.${j}`, j === 0 ? R[Math.max(0, i - 1)]! : R[i]!, R[i]!);
    if (i < R.length - 1) pair(`decoder.up_blocks.${i}.upsamplers.0.conv`, [R[i]!, R[i]!, 3, 3]);
  }
  pair('decoder.conv_norm_out', [c.block_out_channels[0]!]);
  pair('decoder.conv_out', [c.out_channels, c.block_out_channels[0]!, 3, 3]);
  return s;
}
