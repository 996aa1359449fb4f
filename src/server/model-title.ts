/**
 * The page's first words about the loaded model: what it draws and how big it is, before the
 * checkpoint's layout details (those stay in ServerInfo.model).
 */
import { matchVariant } from '../models/dit-config.js';
import { ditParameterShapes } from '../models/dit-shapes.js';
import type { ModelInfo } from '../pipeline.js';

/** Every weight of the DiT, as the official train.py counts them (pos_embed included). */
export function ditParameterCount(info: Pick<ModelInfo, 'config'>): number {
  let n = 0;
  for (const shape of ditParameterShapes(info.config).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** 4182944 → "4.2 M", 675129632 → "675 M": two significant digits below ten, whole numbers above. */
export function formatParameterCount(n: number): string {
  const [value, unit] = n >= 1e9 ? [n / 1e9, 'B'] : n >= 1e6 ? [n / 1e6, 'M'] : n >= 1e3 ? [n / 1e3, 'k'] : [n, ''];
  const shown = value < 10 && unit !== '' ? value.toFixed(1) : String(Math.round(value));
  return unit === '' ? shown : `${shown} ${unit}`;
}

/**
 * "Fashion-MNIST DiT (embedded, 4.2 M parameters)" for the model the package ships;
 * "DiT-XL/2 256×256 (675 M parameters)" for a named variant; "DiT 64×64 (…)" otherwise.
 */
export function modelTitle(info: Pick<ModelInfo, 'config' | 'embedded' | 'imageSize' | 'defaults'>): string {
  const params = `${formatParameterCount(ditParameterCount(info))} parameters`;
  if (info.embedded) return `${info.defaults.classTableName} DiT (embedded, ${params})`;
  const variant = matchVariant(info.config) ?? 'DiT';
  return `${variant} ${info.imageSize}×${info.imageSize} (${params})`;
}
