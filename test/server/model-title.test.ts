import { describe, expect, it } from 'vitest';
import { inspectDiTCheckpoint } from '../../src/checkpoint/dit.js';
import { EMBEDDED_MODEL_DIR } from '../../src/assets.js';
import { ditConfigFor } from '../../src/models/dit-config.js';
import { ditParameterCount, formatParameterCount, modelTitle } from '../../src/server/model-title.js';

const defaults = (classTableName: string) => ({ classTableName }) as Parameters<typeof modelTitle>[0]['defaults'];

describe("the page's model title", () => {
  it('counts every weight of the checkpoint, as inspect does', () => {
    const ckpt = inspectDiTCheckpoint(EMBEDDED_MODEL_DIR);
    try {
      expect(ditParameterCount({ config: ckpt.config! })).toBe(ckpt.parameterCount);
      expect(modelTitle({ config: ckpt.config!, family: 'dit', embedded: true, imageSize: 32, defaults: defaults('Fashion-MNIST') })).toBe(
        'Fashion-MNIST DiT (embedded, 9.8 M parameters)',
      );
    } finally {
      ckpt.weights.close();
    }
  });

  it('names a paper variant by its name and image size; DiT-XL/2 has 675 M parameters as in the paper', () => {
    const config = ditConfigFor('DiT-XL/2');
    expect(ditParameterCount({ config })).toBe(675_129_632);
    expect(modelTitle({ config, family: 'dit', embedded: false, imageSize: 256, defaults: defaults('ImageNet-1k') })).toBe('DiT-XL/2 256×256 (675 M parameters)');
    expect(modelTitle({ config, family: 'sit', embedded: false, imageSize: 256, defaults: defaults('ImageNet-1k') })).toBe('SiT-XL/2 256×256 (675 M parameters)');
    const custom = { ...config, depth: 5 };
    expect(modelTitle({ config: custom, family: 'dit', embedded: false, imageSize: 256, defaults: defaults('ImageNet-1k') })).toMatch(/^DiT 256×256 \(\d+ M parameters\)$/);
    expect(modelTitle({ config: custom, family: 'repa', embedded: false, imageSize: 256, defaults: defaults('ImageNet-1k') })).toMatch(/^REPA 256×256 \(\d+ M parameters\)$/);
  });

  it('rounds counts to two significant digits below ten of a unit', () => {
    expect([999, 1000, 4_182_944, 33_148_160, 675_129_632, 1_500_000_000].map(formatParameterCount)).toEqual(['999', '1.0 k', '4.2 M', '33 M', '675 M', '1.5 B']);
  });
});
