import { describe, expect, it } from 'vitest';
import {
  ATTENTION_FORMS,
  DEFAULT_ATTENTION,
  DEVICES,
  resolveBenchOptions,
  resolveDecodeOptions,
  resolveGenerateOptions,
  resolveLoadOptions,
  resolveServeOptions,
  parseSeed,
  ignoredGenerateOptions,
  MAX_CFG_SCALE,
  type ModelDefaults,
} from '../src/options.js';
import { DEVICE_PROVIDERS } from '../src/runtime/devices.js';
import { createTorchGenerator } from '../src/diffusion/random.js';
import { InternalError, UsageError } from '../src/errors.js';
import { spaceTimesteps } from '../src/diffusion/schedule.js';
import { validateGuidance } from '../src/diffusion/guidance.js';
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
    // A name where an id belongs points at the flag that takes names.
    [{ classLabels: 'dog' }, '--class-labels "dog" is not a class id: --class-labels takes ids (numbers); pass names with --classes, e.g. --classes "dog"'],
    [{ classLabels: '1,,2' }, '--class-labels "1,,2" has an empty item (number 2): pass comma-separated class ids, e.g. --class-labels 207,360, with no empty place between commas'],
    [{ classLabels: '1,2,' }, '--class-labels "1,2," has an empty item (number 3)'],
    [{ classLabels: ' , ' }, '--class-labels is empty: pass comma-separated class ids'],
    [{ classes: 'tench,,goldfish' }, '--classes "tench,,goldfish" has an empty item (number 2): pass comma-separated class names'],
    [{ seed: 'abc' }, '--seed "abc" is not a valid seed: must be an integer in -9223372036854775808..18446744073709551615 (as torch.manual_seed takes)'],
    [{ seed: '-9223372036854775809' }, '--seed -9223372036854775809 is out of range: must be an integer in -9223372036854775808..18446744073709551615'],
    // Not a number at all is said so, not "out of range".
    [{ cfgScale: 'abc' }, '--cfg-scale "abc" is not a number: must be a number in 0..100'],
    [{ numSamplingSteps: 'ten' }, '--num-sampling-steps "ten" is not a number: must be an integer in 1..1000'],
    [{ eta: '' }, '--eta "" is not a number: must be a number in 0..1'],
    [{ cfgScale: '1e9' }, '--cfg-scale "1e9" is out of range: must be a number in 0..100 (1 = no guidance'],
    // Only decimal numbers: JavaScript's Number() would read these as 16, 1 and 7.
    [{ cfgScale: '0x10' }, '--cfg-scale "0x10" is out of range: must be a number in 0..100 (1 = no guidance'],
    [{ eta: '0b1' }, '--eta "0b1" is out of range: must be a number in 0..1'],
    [{ guidanceInterval: '0o7,0x64' }, '--guidance-interval "0o7,0x64" is not valid'],
    [{ cfgScale: 100.5 }, '--cfg-scale 100.5 is out of range'],
    [{ cfgScale: -0.5 }, '--cfg-scale -0.5 is out of range: must be a number in 0..100'],
    [{ sampler: 'euler' }, '--sampler "euler" is not supported: must be one of ddpm, ddim, dpm-solver++'],
    [{ guidance: 'half' }, '--guidance "half" is not supported: must be one of dit, all, off'],
    [{ guidanceInterval: '800,100' }, '--guidance-interval "800,100" is not valid'],
    [{ numSamplingSteps: 333, spacing: 'ddim' }, '--num-sampling-steps 333 cannot be laid out with --spacing ddim'],
    [{ numSamplingSteps: 45, spacing: 'ddim' }, 'use a count near it that can (42, 44, 46, 48) or --spacing uniform'],
    [{ guidanceInterval: '0,1000' }, '--guidance-interval "0,1000" is not valid: must be "lo,hi" timesteps with 0 ≤ lo ≤ hi ≤ 999'],
    [{ guidanceInterval: '-1,500' }, '--guidance-interval "-1,500" is not valid'],
    [{ samplesPerRow: '0' }, '--samples-per-row "0" is out of range: must be an integer in 1..256'],
    [{ classes: 'crane' }, 'class name "crane" is ambiguous: it matches 134 (crane); 517 (crane)'],
    [{ classes: 'retriever' }, 'unknown class name "retriever" for ImageNet-1k; did you mean "flat-coated retriever" (205)'],
    [{ classLabels: '1', classes: 'tench' }, '--class-labels and --classes were both given'],
  ])('rejects %j with a message naming the value', (opts, message) => {
    expect(() => resolveGenerateOptions(opts, imagenetModel)).toThrow(message);
  });

  it('keeps cfg-scale within 0..MAX_CFG_SCALE', () => {
    expect(resolveGenerateOptions({ cfgScale: MAX_CFG_SCALE }, imagenetModel).cfgScale).toBe(100);
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
  it('lists the devices of the one provider table, in its order', () => {
    expect(DEVICES).toEqual(Object.keys(DEVICE_PROVIDERS));
    expect(resolveLoadOptions({}).device).toBe('cpu');
  });
  it('takes numbers as a command line gives them, and only plain integers', () => {
    expect(resolveLoadOptions({ threads: ' 4 ', imageSize: '256', numClasses: 10 })).toMatchObject({ threads: 4, imageSize: 256, numClasses: 10 });
    for (const threads of ['1e3', '0x10', '4.0', '0', '1025']) {
      expect(() => resolveLoadOptions({ threads }), threads).toThrow(`--threads ${JSON.stringify(threads)} is out of range: must be an integer in 1..1024`);
    }
    expect(() => resolveLoadOptions({ threads: '' })).toThrow('--threads "" is not a number: must be an integer in 1..1024');
    expect(() => resolveLoadOptions({ imageSize: '7' })).toThrow('--image-size "7" is out of range: must be an integer in 8..4096 (pixels; 256 or 512 for the official DiT)');
  });
});

describe('resolveDecodeOptions', () => {
  it('defaults to 4 columns and whole decodes, and checks device and threads as every command does', () => {
    expect(resolveDecodeOptions({})).toEqual({ device: 'cpu', threads: undefined, dtype: 'fp32', noCache: false, cacheDir: undefined, samplesPerRow: 4, tile: undefined, maxMemoryBytes: 2 * 2 ** 30 });
    expect(resolveDecodeOptions({ maxMemory: '0.5' }).maxMemoryBytes).toBe(2 ** 29);
    expect(resolveDecodeOptions({ maxMemory: '5e-1' }).maxMemoryBytes).toBe(2 ** 29); // a decimal with an exponent is a decimal
    expect(() => resolveDecodeOptions({ maxMemory: '0x2' })).toThrow('--max-memory "0x2" is out of range');
    expect(resolveDecodeOptions({ samplesPerRow: '2', tile: '32', threads: '3' })).toMatchObject({ samplesPerRow: 2, tile: 32, threads: 3 });
    expect(() => resolveDecodeOptions({ samplesPerRow: 'two' })).toThrow('--samples-per-row "two" is not a number: must be an integer in 1..256');
    expect(() => resolveDecodeOptions({ tile: '1' })).toThrow('--tile "1" is out of range: must be an integer in 2..4096 (latent pixels per tile side, e.g. 32 for 256-pixel tiles)');
    expect(() => resolveDecodeOptions({ threads: '0' })).toThrow('--threads "0" is out of range: must be an integer in 1..1024');
    expect(() => resolveDecodeOptions({ device: 'tpu' })).toThrow('--device "tpu" is not supported: must be one of cpu, webgpu, cuda');
  });

  it('takes the VAE precisions (VAE_DTYPE): fp32 anywhere, fp16 on GPUs; q8 is refused with what to use', () => {
    expect(resolveDecodeOptions({ dtype: 'fp16', device: 'webgpu' }).dtype).toBe('fp16');
    expect(resolveDecodeOptions({ dtype: 'fp16', device: 'cuda' }).dtype).toBe('fp16');
    expect(resolveDecodeOptions({ dtype: 'fp32', device: 'webgpu' }).dtype).toBe('fp32');
    expect(() => resolveDecodeOptions({ dtype: 'q8' })).toThrow('--dtype q8 is a DiT precision only (under it the VAE decodes in fp32): dit decode takes --dtype fp32 or fp16; use --dtype fp32');
    expect(() => resolveDecodeOptions({ dtype: 'fp16' })).toThrow('--dtype fp16 does not run on --device cpu: it runs on webgpu, cuda; use --device webgpu, or on cpu --dtype fp32');
    expect(() => resolveDecodeOptions({ dtype: 'bf16', device: 'webgpu' })).toThrow('--dtype "bf16" is not supported: must be one of fp32, fp16');
  });
});

describe('resolveLoadOptions: attention', () => {
  it("each device's default form unless one is asked for, the same resolver dit bench uses", () => {
    expect(DEVICES.map((device) => resolveLoadOptions({ device }).attention)).toEqual(DEVICES.map((d) => DEFAULT_ATTENTION[d]));
    expect(resolveLoadOptions({ device: 'webgpu' }).attention).toBe('plain');
    expect(resolveLoadOptions({ device: 'webgpu', attention: 'fused' }).attention).toBe('fused');
    expect(resolveLoadOptions({ attention: 'plain' }).attention).toBe('plain');
    for (const device of DEVICES) {
      for (const attention of ATTENTION_FORMS) expect(resolveBenchOptions({ device, attention }).attention).toBe(resolveLoadOptions({ device, attention }).attention);
    }
  });
  it.each(['flash', 'Fused', ''])('refuses %j, naming the forms there are', (attention) => {
    expect(() => resolveLoadOptions({ attention })).toThrow(new UsageError(`--attention ${JSON.stringify(attention)} is not supported: must be one of fused, plain`));
  });
});

describe('resolveBenchOptions', () => {
  it('accepts every spelling of a variant that sample accepts', () => {
    for (const model of ['DiT-XL/2', 'DiT-XL-2', 'dit-xl-2', 'dit-xl/2']) {
      expect(resolveBenchOptions({ model }).model, model).toBe('DiT-XL/2');
    }
  });
  it('gives the defaults: DiT-XL/2 at 256 pixels (latent 32), batch 2, fused attention, all optimisations', () => {
    const o = resolveBenchOptions({});
    expect(o).toMatchObject({ model: 'DiT-XL/2', batch: 2, repeats: 5, device: 'cpu', threads: undefined, attention: 'fused', graphOptimizationLevel: 'all' });
    expect(o.config).toMatchObject({ input_size: 32, patch_size: 2, hidden_size: 1152, in_channels: 4 });
    expect(resolveBenchOptions({ model: 'DiT-S/8', imageSize: '128' }).config.input_size).toBe(16);
  });
  it('times the attention form a session would use: plain on webgpu unless asked', () => {
    expect(resolveBenchOptions({ device: 'webgpu' }).attention).toBe('plain');
    expect(resolveBenchOptions({ device: 'webgpu', attention: 'fused' }).attention).toBe('fused');
  });
  it.each([
    [{ model: 'DiT-Q/2' }, '--model "DiT-Q/2" is not a known model: must be one of DiT-XL/2, DiT-XL/4'],
    [{ imageSize: '100' }, "--image-size 100 cannot be cut into DiT-XL/2's tokens: it must be a multiple of 16 (latent = image / 8, patch 2)"],
    [{ model: 'DiT-S/8', imageSize: 96 }, "--image-size 96 cannot be cut into DiT-S/8's tokens: it must be a multiple of 64 (latent = image / 8, patch 8)"],
    [{ imageSize: '4' }, '--image-size "4" is out of range: must be an integer in 8..4096'],
    [{ batch: '0' }, '--batch "0" is out of range: must be an integer in 1..1024 (2 = one image with guidance)'],
    [{ repeats: '1001' }, '--repeats "1001" is out of range: must be an integer in 1..1000'],
    [{ attention: 'flash' }, '--attention "flash" is not supported: must be one of fused, plain'],
    [{ optLevel: 'max' }, '--opt-level "max" is not supported: must be one of disabled, basic, extended, all'],
    [{ threads: '0' }, '--threads "0" is out of range: must be an integer in 1..1024'],
    [{ device: 'tpu' }, '--device "tpu" is not supported: must be one of cpu, webgpu, cuda'],
  ])('rejects %j', (opts, message) => {
    expect(() => resolveBenchOptions(opts)).toThrow(UsageError);
    expect(() => resolveBenchOptions(opts)).toThrow(message);
  });
});

describe('resolveServeOptions', () => {
  it('defaults to the loopback port 7860, 64 images a request, 8 jobs', () => {
    expect(resolveServeOptions({})).toEqual({ port: 7860, host: '127.0.0.1', maxImages: 64, maxQueue: 8 });
    expect(resolveServeOptions({ port: '0', host: ' 0.0.0.0 ', maxImages: '256', maxQueue: '1' })).toEqual({ port: 0, host: '0.0.0.0', maxImages: 256, maxQueue: 1 });
  });
  it.each([
    [{ port: '65536' }, '--port "65536" is out of range: must be an integer in 0..65535 (0 picks a free port)'],
    [{ port: '1e3' }, '--port "1e3" is out of range'],
    [{ port: 'abc' }, '--port "abc" is not a number: must be an integer in 0..65535 (0 picks a free port)'],
    [{ maxImages: '257' }, '--max-images "257" is out of range: must be an integer in 1..256 (images per request)'],
    [{ maxQueue: '0' }, '--max-queue "0" is out of range: must be an integer in 1..1000 (jobs waiting or running)'],
    [{ host: ' ' }, '--host is empty: pass an address such as 127.0.0.1'],
  ])('rejects %j', (opts, message) => {
    expect(() => resolveServeOptions(opts)).toThrow(message);
  });
});

describe('deeper layers assert what options.ts validated: a bug, not a usage error', () => {
  it('the schedule and guidance raise InternalError for values the resolver refuses', () => {
    expect(() => resolveGenerateOptions({ numSamplingSteps: 45, spacing: 'ddim' }, imagenetModel)).toThrow(UsageError);
    expect(() => spaceTimesteps(45, 'ddim')).toThrow(InternalError);
    expect(() => spaceTimesteps(0, 'uniform')).toThrow(InternalError);
    expect(() => validateGuidance({ form: 'dit', scale: 4, interval: [700, 100] })).toThrow(InternalError);
    expect(() => validateGuidance({ form: 'dit', scale: -1 })).toThrow(InternalError);
  });
  it('what the resolver accepts, the deeper layers accept', () => {
    const r = resolveGenerateOptions({ numSamplingSteps: 50, spacing: 'ddim', guidanceInterval: '0,999' }, imagenetModel);
    expect(spaceTimesteps(r.numSamplingSteps, r.spacing)).toHaveLength(50);
    expect(() => validateGuidance({ form: r.guidance, scale: r.cfgScale, interval: r.guidanceInterval })).not.toThrow();
  });
});

describe('seeds and class names', () => {
  it('parses seeds up to 2^64 - 1', () => {
    expect(parseSeed('18446744073709551615')).toBe(2n ** 64n - 1n);
    expect(() => parseSeed('18446744073709551616')).toThrow('out of range');
  });
  it('takes negative seeds down to -2^63 as torch.manual_seed does: -1 gives the noise of 2^64 - 1', () => {
    expect(parseSeed('-1')).toBe(-1n);
    expect(parseSeed(-5)).toBe(-5n);
    expect(parseSeed('-9223372036854775808')).toBe(-(2n ** 63n));
    const noise = (seed: bigint) => createTorchGenerator(seed).randn(64);
    expect(noise(parseSeed('-1'))).toEqual(noise(parseSeed('18446744073709551615')));
    expect(noise(parseSeed('-2'))).toEqual(noise(2n ** 64n - 2n));
    expect(noise(parseSeed('-1'))).not.toEqual(noise(0n));
  });
  it('has ImageNet 207 = golden retriever and the Fashion-MNIST ten', () => {
    expect(imagenetClasses()).toHaveLength(1000);
    expect(imagenetClasses()[207]![0]).toBe('golden retriever');
    expect(resolveClassNames(['sneaker', 'ankle boot', 'T-shirt'], FASHION_MNIST_CLASSES, 'Fashion-MNIST')).toEqual([7, 9, 0]);
  });
});

describe('ignoredGenerateOptions: valid values that would change nothing', () => {
  it.each([
    [{ eta: '0.5' }, '--eta 0.5 has no effect with --sampler ddpm: only ddim uses eta; pass --sampler ddim or leave --eta out'],
    [{ eta: '1', sampler: 'dpm-solver++' }, '--eta 1 has no effect with --sampler dpm-solver++'],
    [{ cfgScale: '4', guidance: 'off' }, '--cfg-scale 4 has no effect with --guidance off (no guidance is applied); leave one of them out'],
  ])('%j', (opts, message) => {
    expect(ignoredGenerateOptions(opts)).toEqual([expect.stringContaining(message)]);
  });
  it.each([[{ eta: '0.5', sampler: 'ddim' }], [{ eta: '0' }], [{ cfgScale: '1', guidance: 'off' }], [{ guidance: 'off' }], [{ cfgScale: '4' }]])('%j is used', (opts) => {
    expect(ignoredGenerateOptions(opts)).toEqual([]);
  });
});
