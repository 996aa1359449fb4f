import { describe, expect, it } from 'vitest';
import { className, namesContain, normaliseClassName, searchClasses } from '../src/class-names.js';
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
