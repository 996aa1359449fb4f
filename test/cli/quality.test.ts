/**
 * What a class's misses were taken for (sweep/quality.ts takenFor) and the worst-class text of
 * `dit generate`'s quality lines (cli/quality.ts): exact strings from hand-made scores.
 */
import { describe, expect, it } from 'vitest';
import { formatTakenFor, takenFor, type ClassQuality, type EmbeddedQuality } from '../../src/sweep/quality.js';
import { formatEmbeddedQuality } from '../../src/cli/quality.js';

// Shirts (label 6): 191 hits, 3 each given T-shirt/top (0), Pullover (2) and Coat (4), 1 given Dress (3).
const shirt: ClassQuality = { label: 6, count: 201, accuracy: 191 / 201, meanPLabel: 0.86, predicted: [3, 0, 3, 1, 3, 0, 191, 0, 0, 0] };
const clean: ClassQuality = { label: 1, count: 200, accuracy: 1, meanPLabel: 0.99, predicted: [0, 200, 0, 0, 0, 0, 0, 0, 0, 0] };

describe('what a class was taken for', () => {
  it('the classes its misses were given, most first, ties by class id; its own class and empty classes left out', () => {
    expect(takenFor(shirt)).toEqual([[0, 3], [2, 3], [4, 3], [3, 1]]);
    expect(takenFor({ ...shirt, predicted: [1, 0, 0, 0, 5, 0, 191, 0, 0, 4] })).toEqual([[4, 5], [9, 4], [0, 1]]);
    expect(takenFor(clean)).toEqual([]);
  });

  it('as text with the class names; nothing for a class without misses', () => {
    expect(formatTakenFor(shirt)).toBe(' (taken for T-shirt/top 3, Pullover 3, Coat 3, Dress 1)');
    expect(formatTakenFor(clean)).toBe('');
  });

  it("dit generate's second line ends with the worst class and what it was taken for", () => {
    const q: EmbeddedQuality = { fd: 17.5, accuracy: 391 / 401, meanPLabel: 0.9, count: 401, perClass: [clean, shirt] };
    expect(formatEmbeddedQuality(q)[1]).toBe(
      'by class, accuracy/mean p(label): Trouser 1.000/0.990 · Shirt 0.950/0.860 · worst: Shirt 0.950 (taken for T-shirt/top 3, Pullover 3, Coat 3, Dress 1)',
    );
    expect(formatEmbeddedQuality({ ...q, perClass: [clean] })[1]).toBe('by class, accuracy/mean p(label): Trouser 1.000/0.990 · worst: Trouser 1.000');
  });
});
