import { describe, expect, it } from 'vitest';
import { fieldOfMessage, parseGenerateBody, RequestError, resolveOrReject } from '../../src/server/request.js';
import { resolveGenerateOptions } from '../../src/options.js';
import { DitError, UsageError } from '../../src/errors.js';
import { FAKE_DEFAULTS } from './fake-pipeline.js';

const resolve = (o: object) => resolveGenerateOptions(o, FAKE_DEFAULTS);

describe('fieldOfMessage', () => {
  it.each([
    ['--num-sampling-steps 0 is out of range', 'numSamplingSteps'],
    ['--num-sampling-steps 7 cannot be laid out with --spacing ddim', 'numSamplingSteps'],
    ['--class-labels and --classes were both given: pass one of them', 'classLabels'],
    ['class name "crane" is ambiguous: it matches …', 'classes'],
    ['unknown class name "sneakr" for Fashion-MNIST', 'classes'],
    ['9 images were asked for: at most 8 per run; split the run or lower --num-images', 'numImages'],
    ['--guidance-interval "700,100" is not valid', 'guidanceInterval'],
    ['--device "tpu" is not supported', undefined], // a flag, but not a request key
    ['something else entirely', undefined],
  ])('%s → %s', (message, field) => {
    expect(fieldOfMessage(message)).toBe(field);
  });

  it('finds the field of every message the resolver gives for a bad request value', () => {
    const cases: [object, string][] = [
      [{ cfgScale: -1 }, 'cfgScale'],
      [{ eta: 2 }, 'eta'],
      [{ spacing: 'odd' }, 'spacing'],
      [{ guidance: 'half' }, 'guidance'],
      [{ samplesPerRow: 0 }, 'samplesPerRow'],
      [{ numImages: 0 }, 'numImages'],
      [{ classLabels: [] }, 'classLabels'],
      [{ classes: 'Shirt', classLabels: '1' }, 'classLabels'],
      [{ classes: 'shir' }, 'classes'],
      [{ spacing: 'ddim', numSamplingSteps: 999 }, 'numSamplingSteps'],
    ];
    for (const [options, field] of cases) {
      let caught: unknown;
      try {
        resolveOrReject(resolve, options);
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(options)).toBeInstanceOf(RequestError);
      expect((caught as RequestError).status).toBe(400);
      expect((caught as RequestError).field, JSON.stringify(options)).toBe(field);
    }
  });
});

describe('resolveOrReject', () => {
  it('turns only usage errors into a 400: a failure at run time or a bug stays what it is', () => {
    const failing = (err: Error) => () => resolveOrReject(() => {
      throw err;
    }, {});
    expect(failing(new UsageError('--eta 2 is out of range'))).toThrow(new RequestError(400, '--eta 2 is out of range', 'eta'));
    const runtime = new DitError('the model worker thread stopped');
    let caught: unknown;
    try {
      failing(runtime)();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBe(runtime);
  });
});

describe('parseGenerateBody', () => {
  it('keeps values as sent and treats null as "not set"', () => {
    expect(parseGenerateBody('{"seed": "18446744073709551615", "cfgScale": 1.5, "classLabels": [1, "2"], "eta": null}')).toEqual({
      seed: '18446744073709551615',
      cfgScale: 1.5,
      classLabels: [1, '2'],
    });
    expect(parseGenerateBody('')).toEqual({});
  });

  it('refuses lists for scalar options', () => {
    expect(() => parseGenerateBody('{"seed": [1, 2]}')).toThrow('option "seed" is [1,2]: must be a string or a number');
    expect(() => parseGenerateBody('{"classes": [["a"]]}')).toThrow('option "classes" is [["a"]]: must be a string, a number or a list of them');
  });
});
