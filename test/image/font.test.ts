import { describe, expect, it } from 'vitest';
import { drawText, fontCharacters, glyphFor, measureText, ASCENT, DESCENT, GLYPH_HEIGHT, GLYPH_WIDTH } from '../../src/image/font.js';
import type { RgbImage } from '../../src/image/grid.js';

function blank(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3).fill(255) };
}
/** The image as rows of '#' (black) and '.' (white). */
function ascii(img: RgbImage): string[] {
  const rows: string[] = [];
  for (let y = 0; y < img.height; y++) {
    let row = '';
    for (let x = 0; x < img.width; x++) row += img.data[(y * img.width + x) * 3] === 0 ? '#' : '.';
    rows.push(row);
  }
  return rows;
}

describe('bitmap font', () => {
  it('has a distinct 5×9 glyph (7 rows above the baseline, 2 below) for each of the 95 printable ASCII characters, × and ·', () => {
    const expected = [...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), '·', '×'];
    expect(fontCharacters()).toEqual(expected);
    const seen = new Map<string, string>();
    for (const ch of expected) {
      const g = glyphFor(ch);
      expect(g.length, ch).toBe(GLYPH_HEIGHT);
      for (const row of g) expect(row.length, ch).toBe(GLYPH_WIDTH);
      const key = g.map((row) => row.map((b) => (b ? '#' : '.')).join('')).join('/');
      expect(seen.get(key), `'${ch}' draws the same as '${seen.get(key)}'`).toBeUndefined();
      seen.set(key, ch);
    }
  });

  it('draws "A1" at scale 1 with one blank column between glyphs', () => {
    const img = blank(13, 9);
    drawText(img, 'A1', 1, 1);
    expect(ascii(img)).toEqual([
      '.............',
      '..###....#...',
      '.#...#..##...',
      '.#...#...#...',
      '.#####...#...',
      '.#...#...#...',
      '.#...#...#...',
      '.#...#..###..',
      '.............',
    ]);
  });

  it('draws g, j, p, q and y below the baseline and nothing else there', () => {
    expect([ASCENT, DESCENT, GLYPH_HEIGHT]).toEqual([7, 2, 9]);
    const below = (text: string) => {
      const img = blank(text.length * 6, GLYPH_HEIGHT);
      drawText(img, text, 0, 0);
      // Per character, whether any pixel in the two rows under the baseline is inked.
      return [...text].map((_, k) => ascii(img).slice(ASCENT).some((row) => row.slice(k * 6, k * 6 + 5).includes('#')));
    };
    expect(below('gpqyj')).toEqual([true, true, true, true, true]);
    expect(below('abc')).toEqual([false, false, false]);
    const others = fontCharacters().filter((ch) => !'gjpqy'.includes(ch));
    expect(others.filter((ch) => below(ch)[0])).toEqual([]);
    // "steps" at scale 1: the p's stem runs two rows under the baseline, the s beside it does not.
    const img = blank(29, GLYPH_HEIGHT);
    drawText(img, 'steps', 0, 0);
    expect(ascii(img).slice(ASCENT)).toEqual(['..................#..........', '..................#..........']);
  });

  it('scales each glyph pixel to a scale×scale block, in the given colour', () => {
    const img = blank(12, 16);
    drawText(img, '-', 1, 0, { scale: 2, color: [200, 10, 20] });
    // '-' inks row 3, columns 0..4 → rows 6..7, columns 1..10 at scale 2
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 12; x++) {
        const o = (y * 12 + x) * 3;
        const ink = y >= 6 && y <= 7 && x >= 1 && x <= 10;
        expect([img.data[o], img.data[o + 1], img.data[o + 2]], `(${x}, ${y})`).toEqual(ink ? [200, 10, 20] : [255, 255, 255]);
      }
    }
  });

  it('measures text without the trailing gap and clips at the image edge', () => {
    expect(measureText('12.3 s')).toEqual({ width: 35, height: 7 });
    expect(measureText('ab', 3)).toEqual({ width: 33, height: 21 });
    expect(measureText('')).toEqual({ width: 0, height: 7 });
    const img = blank(3, 3);
    drawText(img, 'W', -2, -4); // only the lower-right corner of W lands on the image
    expect(ascii(img)).toEqual(['#.#', '#.#', '.#.']);
  });

  it('draws a hollow box for a character the font lacks', () => {
    const img = blank(5, 7);
    drawText(img, 'é', 0, 0);
    expect(ascii(img)).toEqual(['#####', '#...#', '#...#', '#...#', '#...#', '#...#', '#####']);
  });

  it('rejects a fractional scale', () => {
    expect(() => drawText(blank(2, 2), 'a', 0, 0, { scale: 1.5 })).toThrow(/text scale 1.5 must be a whole number/);
  });
});
