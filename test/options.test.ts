import { describe, expect, it } from 'vitest';
import { resolveGenerateOptions, resolveLoadOptions, parseSeed, type ModelDefaults } from '../src/options.js';
import { imagenetClasses, FASHION_MNIST_CLASSES, resolveClassNames } from '../src/classes.js';

const imagenetModel: ModelDefaults = {
  numClasses: 1000,
  hasNullClass: true,
  classTable: imagenetClasses(),
  classTableName: 'ImageNet-1k',
  inChannels: 4,
  labels: [207, 360, 387, 974, 88, 979, 417, 279],
  cfgScale: 4,
  numSamplingSteps: 250,
  sampler: 'ddpm',
  samplesPerRow: 4,
};

describe('resolveGenerateOptions', () => {
  it('gives the notebook defaults for an official model', () => {
    const r = resolveGenerateOptions({}, imagenetModel);
    expect(r).toMatchObject({ cfgScale: 4, numSamplingSteps: 250, sampler: 'ddpm', guidance: 'dit', seed: 0n, samplesPerRow: 4 });
    expect(r.labels).toEqual([207, 360, 387, 974, 88, 979, 417, 279]);
  });

  it('repeats labels like [207] * num_images', () => {
    expect(resolveGenerateOptions({ classLabels: '207', numImages: 3 }, imagenetModel).labels).toEqual([207, 207, 207]);
    expect(resolveGenerateOptions({ classLabels: [1, 2], numImages: 5 }, imagenetModel).labels).toEqual([1, 2, 1, 2, 1]);
  });

  it('resolves class names, case and underscores aside', () => {
    expect(resolveGenerateOptions({ classes: 'golden retriever,Golden_Retriever' }, imagenetModel).labels).toEqual([207, 207]);
  });

  it('defaults guidance to the standard form for pixel-space models', () => {
    expect(resolveGenerateOptions({}, { ...imagenetModel, inChannels: 1 }).guidance).toBe('all');
  });

  it.each([
    [{ numSamplingSteps: 0 }, '--num-sampling-steps 0 is out of range: must be an integer in 1..1000'],
    [{ numSamplingSteps: -5 }, '--num-sampling-steps -5 is out of range'],
    [{ numSamplingSteps: 1001 }, '--num-sampling-steps 1001 is out of range'],
    [{ classLabels: '1000' }, '--class-labels 1000 is out of range: must be an integer in 0..999 (this model has 1000 classes)'],
    [{ classLabels: 'dog' }, '--class-labels "dog" is out of range'],
    [{ seed: 'abc' }, '--seed "abc" is not a valid seed'],
    [{ seed: -1 }, '--seed "-1" is not a valid seed'],
    [{ cfgScale: -0.5 }, '--cfg-scale -0.5 is out of range: must be a number ≥ 0'],
    [{ sampler: 'euler' }, '--sampler "euler" is not supported: must be one of ddpm, ddim, dpm-solver++'],
    [{ guidance: 'half' }, '--guidance "half" is not supported: must be one of dit, all, off'],
    [{ guidanceInterval: '800,100' }, '--guidance-interval "800,100" is not valid'],
    [{ numSamplingSteps: 333, spacing: 'ddim' }, '--num-sampling-steps 333 cannot be laid out with --spacing ddim'],
    [{ classes: 'crane' }, 'class name "crane" is ambiguous: it matches 134 (crane); 517 (crane)'],
    [{ classes: 'retriever' }, 'unknown class name "retriever" for ImageNet-1k; did you mean "flat-coated retriever" (205)'],
    [{ classLabels: '1', classes: 'tench' }, '--class-labels and --classes were both given'],
  ])('rejects %j with a message naming the value', (opts, message) => {
    expect(() => resolveGenerateOptions(opts, imagenetModel)).toThrow(message);
  });

  it('refuses guidance on a model without a null class', () => {
    const noNull = { ...imagenetModel, hasNullClass: false };
    expect(() => resolveGenerateOptions({ cfgScale: 4 }, noNull)).toThrow('needs a model trained with label dropout');
    expect(resolveGenerateOptions({}, noNull).guidance).toBe('off');
  });
});

describe('resolveLoadOptions', () => {
  it('maps variant names, download names included', () => {
    expect(resolveLoadOptions({ model: 'DiT-XL/2' }).model).toBe('DiT-XL/2');
    expect(resolveLoadOptions({ model: 'dit-xl-2' }).model).toBe('DiT-XL/2');
  });
  it('rejects unknown devices and variants, listing the allowed ones', () => {
    expect(() => resolveLoadOptions({ device: 'tpu' })).toThrow('--device "tpu" is not supported: must be one of cpu, webgpu, cuda');
    expect(() => resolveLoadOptions({ model: 'DiT-M/2' })).toThrow('must be one of DiT-XL/2, DiT-XL/4');
  });
});

describe('seeds and class names', () => {
  it('parses seeds up to 2^64 - 1', () => {
    expect(parseSeed('18446744073709551615')).toBe(2n ** 64n - 1n);
    expect(() => parseSeed('18446744073709551616')).toThrow('out of range');
  });
  it('has ImageNet 207 = golden retriever and the Fashion-MNIST ten', () => {
    expect(imagenetClasses()).toHaveLength(1000);
    expect(imagenetClasses()[207]![0]).toBe('golden retriever');
    expect(resolveClassNames(['sneaker', 'ankle boot', 'T-shirt'], FASHION_MNIST_CLASSES, 'Fashion-MNIST')).toEqual([7, 9, 0]);
  });
});
