import { describe, expect, it } from 'vitest';
import { className, editDistance, namesContain, normaliseClassName, searchClasses, suggestClasses } from '../src/class-names.js';
import { resolveClassNames } from '../src/classes.js';
import { FASHION_MNIST_CLASSES, imagenetClasses } from '../src/classes.js';

describe('normaliseClassName', () => {
  it.each([
    ['Golden Retriever', 'golden retriever'],
    ['golden_retriever', 'golden retriever'],
    ['  golden--_ retriever\t', 'golden retriever'],
    ['T-shirt/top', 't shirt/top'],
    ['___', ''],
    ['', ''],
  ])('%j → %j', (name, normalised) => {
    expect(normaliseClassName(name)).toBe(normalised);
  });
});

describe('className', () => {
  it('is the first synonym, or "class <id>" without a table or past its end', () => {
    expect(className(FASHION_MNIST_CLASSES, 7)).toBe('Sneaker');
    expect(className(undefined, 7)).toBe('class 7');
    expect(className(FASHION_MNIST_CLASSES, 10)).toBe('class 10');
  });
});

describe('namesContain', () => {
  it('matches a normalised needle inside any synonym', () => {
    expect(namesContain(['Sneaker', 'trainer'], 'rain')).toBe(true);
    expect(namesContain(['T-shirt/top'], 't shirt')).toBe(true);
    expect(namesContain(['T-shirt/top'], 'tshirt')).toBe(false);
  });
});

describe('searchClasses', () => {
  it('lists every class for an empty query', () => {
    expect(searchClasses(FASHION_MNIST_CLASSES, '')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(searchClasses(FASHION_MNIST_CLASSES, ' _ ')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('finds names and synonyms as typed, in id order', () => {
    expect(searchClasses(FASHION_MNIST_CLASSES, 'BOOT')).toEqual([9]);
    expect(searchClasses(FASHION_MNIST_CLASSES, 'shirt')).toEqual([0, 6]);
    expect(searchClasses(imagenetClasses(), 'golden_retriever')).toEqual([207]);
    expect(searchClasses(FASHION_MNIST_CLASSES, 'zebra')).toEqual([]);
  });

  it('puts the class whose id is the query first, then names that contain it', () => {
    const table = [['class 0'], ['class 1'], ['class 2'], ['class 3'], ['class 4'], ['class 5'], ['class 6'], ['class 7'], ['class 8'], ['class 9'], ['class 10'], ['room 1']];
    expect(searchClasses(table, '1')).toEqual([1, 10, 11]);
    expect(searchClasses(table, '10')).toEqual([10]);
    expect(searchClasses(FASHION_MNIST_CLASSES, '3')).toEqual([3]);
    expect(searchClasses(FASHION_MNIST_CLASSES, '03')).toEqual([]);
  });
});

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['abc', '', 3],
    ['kitten', 'sitting', 3],
    ['golden retriver', 'golden retriever', 1],
    ['sneakers', 'sneaker', 1],
  ])('%j → %j: %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('suggestClasses: what a mistyped name meant', () => {
  it('finds the singular of a plural first', () => {
    expect(suggestClasses(FASHION_MNIST_CLASSES, 'sneakers')).toEqual([7]);
    expect(suggestClasses(FASHION_MNIST_CLASSES, 'Dresses')).toEqual([3]);
    expect(suggestClasses(FASHION_MNIST_CLASSES, 'bags')[0]).toBe(8);
  });
  it('finds a name a few edits away', () => {
    expect(suggestClasses(imagenetClasses(), 'golden retriver')).toEqual([207]);
    expect(suggestClasses(FASHION_MNIST_CLASSES, 'sandle')).toEqual([5]);
  });
  it('suggests nothing for a word far from every name', () => {
    expect(suggestClasses(FASHION_MNIST_CLASSES, 'zebra')).toEqual([]);
    expect(suggestClasses(FASHION_MNIST_CLASSES, '')).toEqual([]);
  });
  it('resolveClassNames says them in its message, or names the command that lists the table', () => {
    expect(() => resolveClassNames(['sneakers'], FASHION_MNIST_CLASSES, 'Fashion-MNIST')).toThrow('unknown class name "sneakers" for Fashion-MNIST; did you mean "Sneaker" (7)?');
    expect(() => resolveClassNames(['golden retriver'], imagenetClasses(), 'ImageNet-1k')).toThrow('unknown class name "golden retriver" for ImageNet-1k; did you mean "golden retriever" (207)?');
    expect(() => resolveClassNames(['zebra'], FASHION_MNIST_CLASSES, 'Fashion-MNIST')).toThrow('unknown class name "zebra" for Fashion-MNIST; run `dit classes fashion-mnist` to list the 10 Fashion-MNIST classes');
    expect(() => resolveClassNames(['qqqqqqqqqq'], imagenetClasses(), 'ImageNet-1k')).toThrow('run `dit classes imagenet` to list the 1000 ImageNet-1k classes');
  });
});
