import { SD_VAE_CONFIG, vaeUpscale } from './vae-config.js';

/** Hyper-parameters of a DiT, named as the official DiT constructor names them (facebookresearch/DiT models.py). */
export interface DiTConfig {
  readonly input_size: number; // latent (or pixel) side length, e.g. 32 for a 256×256 image
  readonly patch_size: number; // p: tokens are p×p patches
  readonly in_channels: number; // 4 for SD-VAE latents, 1 or 3 for pixel-space models
  readonly hidden_size: number; // D
  readonly depth: number; // number of DiT blocks
  readonly num_heads: number; // attention heads; D / num_heads is the head size
  readonly mlp_ratio: number; // MLP width = int(mlp_ratio · D), see ditMlpWidth
  readonly class_dropout_prob: number; // > 0 means the label table has a null row (index num_classes)
  readonly num_classes: number; // 1000 for ImageNet
  readonly learn_sigma: boolean; // out_channels = 2 · in_channels when true
}

/** The twelve named variants of the paper (depth, hidden, patch, heads). */
export const DIT_VARIANTS = {
  'DiT-XL/2': { depth: 28, hidden_size: 1152, patch_size: 2, num_heads: 16 },
  'DiT-XL/4': { depth: 28, hidden_size: 1152, patch_size: 4, num_heads: 16 },
  'DiT-XL/8': { depth: 28, hidden_size: 1152, patch_size: 8, num_heads: 16 },
  'DiT-L/2': { depth: 24, hidden_size: 1024, patch_size: 2, num_heads: 16 },
  'DiT-L/4': { depth: 24, hidden_size: 1024, patch_size: 4, num_heads: 16 },
  'DiT-L/8': { depth: 24, hidden_size: 1024, patch_size: 8, num_heads: 16 },
  'DiT-B/2': { depth: 12, hidden_size: 768, patch_size: 2, num_heads: 12 },
  'DiT-B/4': { depth: 12, hidden_size: 768, patch_size: 4, num_heads: 12 },
  'DiT-B/8': { depth: 12, hidden_size: 768, patch_size: 8, num_heads: 12 },
  'DiT-S/2': { depth: 12, hidden_size: 384, patch_size: 2, num_heads: 6 },
  'DiT-S/4': { depth: 12, hidden_size: 384, patch_size: 4, num_heads: 6 },
  'DiT-S/8': { depth: 12, hidden_size: 384, patch_size: 8, num_heads: 6 },
} as const satisfies Record<string, Pick<DiTConfig, 'depth' | 'hidden_size' | 'patch_size' | 'num_heads'>>;

export type DiTVariantName = keyof typeof DIT_VARIANTS;

/** The official constructor defaults (facebookresearch/DiT models.py) for what a variant does not fix. */
export const DIT_DEFAULTS = {
  input_size: 32,
  in_channels: 4,
  mlp_ratio: 4,
  class_dropout_prob: 0.1,
  num_classes: 1000,
  learn_sigma: true,
} as const;

/** out_channels of the final layer. */
export function ditOutChannels(c: DiTConfig): number {
  return c.learn_sigma ? 2 * c.in_channels : c.in_channels;
}

/** The MLP's hidden width: the official constructor truncates, `int(hidden_size * mlp_ratio)`. */
export function ditMlpWidth(c: Pick<DiTConfig, 'hidden_size' | 'mlp_ratio'>): number {
  return Math.trunc(c.hidden_size * c.mlp_ratio);
}

/**
 * An mlp_ratio whose ditMlpWidth is `width`, for weights that state no ratio. width / hidden is the
 * natural answer, but its product with hidden can land just below width in floating point
 * (56 · (61 / 56) = 60.99…); the midpoint (width + ½) / hidden truncates to width whatever the rounding.
 */
export function ditMlpRatioFor(hiddenSize: number, width: number): number {
  const ratio = width / hiddenSize;
  return ditMlpWidth({ hidden_size: hiddenSize, mlp_ratio: ratio }) === width ? ratio : (width + 0.5) / hiddenSize;
}

/** Builds the full config of a named variant, e.g. ditConfigFor('DiT-XL/2', { input_size: 64 }). */
export function ditConfigFor(name: DiTVariantName, overrides: Partial<DiTConfig> = {}): DiTConfig {
  return { ...DIT_DEFAULTS, ...DIT_VARIANTS[name], ...overrides };
}

/**
 * The variant a user's name means, case aside; the download names count too (DiT-XL-2 ≡ DiT-XL/2).
 */
export function findVariant(name: string): DiTVariantName | undefined {
  const canonical = name.replace(/^(DiT-[A-Z]+)-(\d)$/i, '$1/$2').toLowerCase();
  return (Object.keys(DIT_VARIANTS) as DiTVariantName[]).find((v) => v.toLowerCase() === canonical);
}

/**
 * The model families that share DiT's network: DiT (DDPM, eps + learned sigma), SiT (Ma et al.
 * 2024: the same network trained as a velocity field, t from 0 = noise to 1) and REPA (Yu et al.
 * 2025: SiT with representation alignment; extra `projectors.*` weights, no learned sigma, t from
 * 1 = noise to 0). SiT's weights cannot be told from DiT's; REPA's can (its projectors).
 */
export const MODEL_FAMILIES = ['dit', 'sit', 'repa'] as const;
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

/** How --model spells each family's variants: DiT-XL/2, SiT-XL/2, REPA-SiT-XL/2. */
export const FAMILY_MODEL_PREFIX: Readonly<Record<ModelFamily, string>> = { dit: 'DiT-', sit: 'SiT-', repa: 'REPA-SiT-' };
export const FAMILY_TITLE: Readonly<Record<ModelFamily, string>> = { dit: 'DiT', sit: 'SiT', repa: 'REPA' };

/** Every --model name: the twelve variants in each family. */
export const MODEL_NAMES: readonly string[] = MODEL_FAMILIES.flatMap((f) =>
  Object.keys(DIT_VARIANTS).map((v) => FAMILY_MODEL_PREFIX[f] + v.slice('DiT-'.length)),
);

/** `modelName('sit', 'DiT-XL/2')` = "SiT-XL/2". */
export function modelName(family: ModelFamily, variant: DiTVariantName): string {
  return FAMILY_MODEL_PREFIX[family] + variant.slice('DiT-'.length);
}

/** The family and DiT shapes a --model name means, case aside (SiT-XL-2 ≡ SiT-XL/2). */
export function findModel(name: string): { family: ModelFamily; variant: DiTVariantName } | undefined {
  const m = /^(REPA-SiT|SiT|DiT)-([A-Z]+)[-/](\d)$/i.exec(name);
  if (!m) return undefined;
  const family = MODEL_FAMILIES.find((f) => FAMILY_MODEL_PREFIX[f].toLowerCase() === `${m[1]!.toLowerCase()}-`);
  const variant = findVariant(`DiT-${m[2]}/${m[3]}`);
  return family && variant ? { family, variant } : undefined;
}

/** Which named variant (if any) a config's depth / hidden / patch / heads match. */
export function matchVariant(c: Pick<DiTConfig, 'depth' | 'hidden_size' | 'patch_size'>): DiTVariantName | undefined {
  for (const [name, v] of Object.entries(DIT_VARIANTS)) {
    if (v.depth === c.depth && v.hidden_size === c.hidden_size && v.patch_size === c.patch_size) {
      return name as DiTVariantName;
    }
  }
  return undefined;
}

/**
 * The one rule for what a DiT's input is: a model with the SD VAE's latent channels (4) samples SD-VAE
 * latents, and its images are decoded by a VAE; any other channel count (1 or 3) samples pixels.
 */
export function isLatentDiT(c: Pick<DiTConfig, 'in_channels'>): boolean {
  return c.in_channels === SD_VAE_CONFIG.latent_channels;
}

/** Image pixels per input cell on each side: the SD VAE's ×8 for latent models, 1 for pixel models. */
export function pixelsPerCell(c: Pick<DiTConfig, 'in_channels'>): number {
  return isLatentDiT(c) ? vaeUpscale(SD_VAE_CONFIG) : 1;
}

/** How the DiT graph computes attention: com.microsoft.MultiHeadAttention (fused) or MatMul/Softmax (plain). */
export const DIT_ATTENTION_FORMS = ['fused', 'plain'] as const;
export type DiTAttentionForm = (typeof DIT_ATTENTION_FORMS)[number];

/**
 * Precisions of the DiT graph, by transformers.js's names: fp32 (exact: the official code's numbers),
 * q8 (int8 linear layers on ONNX Runtime's CPU kernels; see models/quantize.ts) and fp16 (float16
 * weights and compute, a few parts in fp32; see models/fp16.ts).
 */
export const DIT_DTYPES = ['fp32', 'q8', 'fp16'] as const;
export type DiTDtype = (typeof DIT_DTYPES)[number];

/** The largest image side (pixels) and class count a user or a config file may ask for. */
export const MAX_IMAGE_SIZE = 4096;
export const MAX_NUM_CLASSES = 1_000_000;
