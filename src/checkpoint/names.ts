/**
 * Which file of a folder holds the weights: one rule for folders on disk (discovery.ts) and for the
 * files a page is given (a folder picked in the browser). Pure: names in, a name or a message out.
 */
export const WEIGHT_EXTENSIONS: readonly string[] = ['.safetensors', '.pt', '.pth', '.bin', '.ckpt'];

/** A DiT folder's weights, most preferred first (diffusers, then a plain export). */
export const DIT_WEIGHT_NAMES: readonly string[] = ['diffusion_pytorch_model.safetensors', 'model.safetensors', 'diffusion_pytorch_model.bin'];

/** A VAE folder's weights, most preferred first. */
export const VAE_WEIGHT_NAMES: readonly string[] = ['diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.bin', 'model.safetensors'];

export function isWeightsName(name: string): boolean {
  return WEIGHT_EXTENSIONS.some((e) => name.endsWith(e));
}

/** The first `preferred` name present among `names`, else the only weights file; otherwise why not. */
export function chooseWeights(names: readonly string[], preferred: readonly string[], where: string): { name: string } | { error: string } {
  const weights = names.filter(isWeightsName);
  const pick = preferred.find((p) => weights.includes(p)) ?? (weights.length === 1 ? weights[0] : undefined);
  if (pick !== undefined) return { name: pick };
  return {
    error:
      weights.length === 0
        ? `${where} has no weights file (${WEIGHT_EXTENSIONS.join(', ')}); pass the file itself or a diffusers folder`
        : `${where} has several weights files (${weights.join(', ')}); pass the one to use`,
  };
}
