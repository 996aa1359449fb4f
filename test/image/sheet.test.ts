import { describe, expect, it } from 'vitest';
import { composeSheet, layoutSheet, type Rect, type SheetInput } from '../../src/image/sheet.js';
import type { RgbImage } from '../../src/image/grid.js';

function solid(width: number, height: number, rgb: [number, number, number]): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  return { width, height, data };
}
const at = (img: RgbImage, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];
const inside = (r: Rect, x: number, y: number) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height;

const colours: [number, number, number][][] = [
  [[200, 0, 0], [0, 200, 0], [0, 0, 200]],
  [[100, 100, 0], [0, 100, 100], [100, 0, 100]],
];
const input: SheetInput = {
  title: 'T',
  rows: ['r1', 'r2'],
  columns: ['a', 'b', 'c'],
  cells: colours.map((row, r) => row.map((rgb, c) => ({ image: solid(10, 8, rgb), caption: `${r * 3 + c} s` }))),
};
const options = { textScale: 1, margin: 4, gap: 3 };

describe('contact sheet layout', () => {
  it('places bands, headers, cells and captions where the arithmetic says', () => {
    const layout = layoutSheet(input, options);
    // text line box 7 + 2·2 = 11; slot width = widest of image 10, header "a" 5+4, caption "0 s" 17+4 → 21
    // row band "r1" 11+4 = 15; grid width 3·21 + 2·3 = 69; row pitch 8 + 11 + 3 = 22
    expect([layout.width, layout.height]).toEqual([4 + 15 + 69 + 4, 4 + 11 + 11 + (2 * 22 - 3) + 4]);
    expect(layout.title).toEqual({ x: 4, y: 4, width: 84, height: 11 });
    expect(layout.headerBand).toEqual({ x: 19, y: 15, width: 69, height: 11 });
    expect(layout.rowBand).toEqual({ x: 4, y: 26, width: 15, height: 41 });
    expect(layout.columnHeaders).toEqual([19, 43, 67].map((x) => ({ x, y: 15, width: 21, height: 11 })));
    expect(layout.rowHeaders).toEqual([26, 48].map((y) => ({ x: 4, y, width: 15, height: 8 })));
    // images centred in their slot: 19 + floor((21 - 10) / 2) = 24
    expect(layout.cells).toEqual([26, 48].map((y) => [24, 48, 72].map((x) => ({ x, y, width: 10, height: 8 }))));
    expect(layout.captions).toEqual([34, 56].map((y) => [19, 43, 67].map((x) => ({ x, y, width: 21, height: 11 }))));
  });

  it('uses the image width for the slot when images are the widest thing', () => {
    const wide: SheetInput = { title: 'x', rows: ['1'], columns: ['2', '3'], cells: [[{ image: solid(40, 5, [1, 2, 3]), caption: '' }, { image: solid(40, 5, [1, 2, 3]), caption: '' }]] };
    const layout = layoutSheet(wide, options);
    expect(layout.cells[0].map((r) => r.x)).toEqual([4 + 9, 4 + 9 + 40 + 3]);
    expect(layout.width).toBe(4 + 9 + 83 + 4);
  });
});

describe('contact sheet pixels', () => {
  const { image, layout } = composeSheet(input, options);
  const textRects = [layout.title, ...layout.columnHeaders, ...layout.rowHeaders, ...layout.captions.flat()];

  it('copies every cell image to its rectangle', () => {
    layout.cells.forEach((row, r) =>
      row.forEach((rect, c) => {
        for (let y = rect.y; y < rect.y + rect.height; y++)
          for (let x = rect.x; x < rect.x + rect.width; x++) expect(at(image, x, y), `cell ${r},${c} at (${x}, ${y})`).toEqual(colours[r][c]);
      }),
    );
  });

  it('puts ink only inside text rectangles, and some in each, on a white page', () => {
    const inkPerRect = new Array(textRects.length).fill(0);
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        if (layout.cells.flat().some((r) => inside(r, x, y))) continue;
        const px = at(image, x, y);
        if (px[0] === 255 && px[1] === 255 && px[2] === 255) continue;
        expect(px, `(${x}, ${y})`).toEqual([0, 0, 0]);
        const k = textRects.findIndex((r) => inside(r, x, y));
        expect(k, `ink at (${x}, ${y}) outside every text rectangle`).toBeGreaterThanOrEqual(0);
        inkPerRect[k]++;
      }
    }
    expect(inkPerRect.every((n) => n > 0)).toBe(true);
  });

  it('centres a column header: "a" starts at 19 + floor((21 - 5) / 2) = 27, row 15 + 2 = 17', () => {
    // glyph 'a' row 2 is '.###.', row 0 is blank
    expect([at(image, 27, 19), at(image, 28, 19), at(image, 31, 19), at(image, 28, 17)]).toEqual([
      [255, 255, 255],
      [0, 0, 0],
      [255, 255, 255],
      [255, 255, 255],
    ]);
  });

  it('draws a grey placeholder for a cell without an image', () => {
    const partial: SheetInput = { ...input, cells: [input.cells[0], [input.cells[1][0], { image: null, caption: '...' }, input.cells[1][2]]] };
    const { image: img, layout: lay } = composeSheet(partial, options);
    const rect = lay.cells[1][1];
    expect(rect).toEqual({ x: 43, y: 48, width: 21, height: 8 });
    expect(at(img, rect.x, rect.y)).toEqual([224, 224, 224]);
    expect(at(img, rect.x + 20, rect.y + 7)).toEqual([224, 224, 224]);
  });

  it('rejects cells that do not match the headers, naming the row', () => {
    expect(() => layoutSheet({ ...input, cells: [input.cells[0]] })).toThrow(/2 row headers but 1 rows of cells/);
    expect(() => layoutSheet({ ...input, cells: [input.cells[0], input.cells[1].slice(1)] })).toThrow(/row 1 \("r2"\) has 2 cells; expected 3/);
  });
});
