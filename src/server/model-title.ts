/**
 * The page's first words about the loaded model: what it draws and how big it is, before the
 * checkpoint's layout details (those stay in ServerInfo.model); the whole ServerInfo and class list,
 * which the server and the page's in-browser back end both send.
 */
import { FAMILY_TITLE, matchVariant, modelName } from '../models/dit-config.js';
import { ditParameterShapes } from '../models/dit-shapes.js';
import type { ModelInfo, Pipeline } from '../pipeline-core.js';
import { GUIDANCE_FORMS, SPACINGS, samplersFor } from '../options.js';
import { className, type ClassTable } from '../class-names.js';
import type { ServerInfo } from './api.js';
import { toResolvedRequest } from './request.js';

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
 * "DiT-XL/2 256×256 (675 M parameters)" for a named variant (SiT-XL/2, REPA-SiT-XL/2 for those
 * families); "DiT 64×64 (…)" otherwise.
 */
export function modelTitle(info: Pick<ModelInfo, 'config' | 'embedded' | 'imageSize' | 'defaults' | 'family'>): string {
  const params = `${formatParameterCount(ditParameterCount(info))} parameters`;
  if (info.embedded) return `${info.defaults.classTableName} DiT (embedded, ${params})`;
  const variant = matchVariant(info.config);
  const name = variant ? modelName(info.family, variant) : FAMILY_TITLE[info.family];
  return `${name} ${info.imageSize}×${info.imageSize} (${params})`;
}

/** What GET /api/info says (the page's back end in the browser says the same). */
export function serverInfo(pipeline: Pipeline, limits: ServerInfo['limits']): ServerInfo {
  const model = pipeline.info;
  return {
    title: modelTitle(model),
    parameterCount: ditParameterCount(model),
    model: model.description,
    embedded: model.embedded,
    imageSize: model.imageSize,
    numClasses: model.config.num_classes,
    classTable: { name: model.defaults.classTableName, named: model.classTable !== undefined },
    defaults: toResolvedRequest(pipeline.resolve({})),
    limits,
    samplers: samplersFor(model.family),
    guidanceForms: GUIDANCE_FORMS,
    spacings: SPACINGS,
  };
}

/** Every class the model has, named from its table or `class <id>`. */
export function classNamesOf(model: ModelInfo): ClassTable {
  return Array.from({ length: model.config.num_classes }, (_, id) => model.classTable?.[id] ?? [className(undefined, id)]);
}
