/**
 * The labelled contact sheet of `dit sweep`: a title, a header band with one header per column
 * value, a left band with one header per row value, and a grid of cells, each an image with a
 * caption under it (e.g. "12.3 s"). Returns the layout with the image so callers and tests can
 * find every part by its rectangle.
 */
import { InternalError } from '../errors.js';
import { drawText, measureText } from './font.js';
import type { RgbImage } from './grid.js';

export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface SheetCell {
  /** The cell's picture; null draws a grey placeholder (a cell not computed yet). */
  readonly image: RgbImage | null;
  readonly caption: string;
}

export interface SheetInput {
  readonly title: string;
  /** Header text per row, top to bottom (e.g. "cfg 1", "cfg 5"). */
  readonly rows: readonly string[];
  /** Header text per column, left to right (e.g. "50 steps"). */
  readonly columns: readonly string[];
  /** cells[row][column]. */
  readonly cells: readonly (readonly SheetCell[])[];
}

export interface SheetOptions {
  /** Text scale (integer); 2 makes 10×14-pixel glyphs, readable next to 256-pixel images. */
  readonly textScale?: number;
  /** Blank border around the whole sheet, in pixels. */
  readonly margin?: number;
  /** Space between neighbouring cells, in pixels. */
  readonly gap?: number;
}

export interface SheetLayout {
  readonly width: number;
  readonly height: number;
  readonly title: Rect;
  /** The band above the cells holding the column headers. */
  readonly headerBand: Rect;
  /** The band left of the cells holding the row headers. */
  readonly rowBand: Rect;
  readonly columnHeaders: readonly Rect[];
  readonly rowHeaders: readonly Rect[];
  /** Where each cell's image sits, [row][column] (its own size, centred in the column slot). */
  readonly cells: readonly (readonly Rect[])[];
  /** The caption line under each cell, [row][column]. */
  readonly captions: readonly (readonly Rect[])[];
}

const WHITE = 255;
const PLACEHOLDER = 224;
const INK: [number, number, number] = [0, 0, 0];

function checkInput(input: SheetInput): void {
  if (input.rows.length === 0 || input.columns.length === 0) {
    throw new InternalError(`a contact sheet needs at least one row and one column; got ${input.rows.length} rows × ${input.columns.length} columns`);
  }
  if (input.cells.length !== input.rows.length) {
    throw new InternalError(`contact sheet has ${input.rows.length} row headers but ${input.cells.length} rows of cells; give one row of cells per row value`);
  }
  input.cells.forEach((row, r) => {
    if (row.length !== input.columns.length) {
      throw new InternalError(`contact sheet row ${r} ("${input.rows[r]}") has ${row.length} cells; expected ${input.columns.length}, one per column value`);
    }
  });
}

/** Computes where everything goes; pure geometry, no pixels. */
export function layoutSheet(input: SheetInput, options: SheetOptions = {}): SheetLayout {
  checkInput(input);
  const scale = options.textScale ?? 2;
  const margin = options.margin ?? 8;
  const gap = options.gap ?? 8;
  const pad = 2 * scale; // space between text and the edges of its band
  const lineBox = measureText('', scale).height + 2 * pad;
  const textWidth = (s: string) => measureText(s, scale).width;

  const allCells = input.cells.flat();
  const images = allCells.map((c) => c.image).filter((im): im is RgbImage => im !== null);
  // A column slot is wide enough for its widest neighbour so no header or caption overlaps the next.
  const slotWidth = Math.max(
    1,
    ...images.map((im) => im.width),
    ...input.columns.map((s) => textWidth(s) + 2 * pad),
    ...allCells.map((c) => textWidth(c.caption) + 2 * pad),
  );
  const imageHeight = Math.max(1, ...images.map((im) => im.height));
  const rowBandWidth = Math.max(...input.rows.map((s) => textWidth(s) + 2 * pad));
  const nCols = input.columns.length;
  const nRows = input.rows.length;
  const gridWidth = nCols * slotWidth + (nCols - 1) * gap;
  const rowPitch = imageHeight + lineBox + gap;
  const width = Math.max(margin + rowBandWidth + gridWidth + margin, margin + textWidth(input.title) + 2 * pad + margin);

  const title: Rect = { x: margin, y: margin, width: width - 2 * margin, height: lineBox };
  const gridX = margin + rowBandWidth;
  const headerBand: Rect = { x: gridX, y: title.y + title.height, width: gridWidth, height: lineBox };
  const gridY = headerBand.y + headerBand.height;
  const rowBand: Rect = { x: margin, y: gridY, width: rowBandWidth, height: nRows * rowPitch - gap };
  const height = gridY + rowBand.height + margin;

  const slotX = (c: number) => gridX + c * (slotWidth + gap);
  const slotY = (r: number) => gridY + r * rowPitch;
  const columnHeaders = input.columns.map((_, c) => ({ x: slotX(c), y: headerBand.y, width: slotWidth, height: lineBox }));
  const rowHeaders = input.rows.map((_, r) => ({ x: margin, y: slotY(r), width: rowBandWidth, height: imageHeight }));
  const cells = input.cells.map((row, r) =>
    row.map((cell, c) => {
      const w = cell.image?.width ?? slotWidth;
      const h = cell.image?.height ?? imageHeight;
      return { x: slotX(c) + Math.floor((slotWidth - w) / 2), y: slotY(r), width: w, height: h };
    }),
  );
  const captions = input.cells.map((row, r) =>
    row.map((_, c) => ({ x: slotX(c), y: slotY(r) + imageHeight, width: slotWidth, height: lineBox })),
  );
  return { width, height, title, headerBand, rowBand, columnHeaders, rowHeaders, cells, captions };
}

function fill(image: RgbImage, rect: Rect, value: number): void {
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    image.data.fill(value, (y * image.width + rect.x) * 3, (y * image.width + rect.x + rect.width) * 3);
  }
}

function blit(image: RgbImage, src: RgbImage, x0: number, y0: number): void {
  for (let y = 0; y < src.height; y++) {
    image.data.set(src.data.subarray(y * src.width * 3, (y + 1) * src.width * 3), ((y0 + y) * image.width + x0) * 3);
  }
}

/** Text centred horizontally in `rect` (left-aligned when `left`) and vertically. */
function label(image: RgbImage, text: string, rect: Rect, scale: number, left = false): void {
  const size = measureText(text, scale);
  const x = left ? rect.x + 2 * scale : rect.x + Math.floor((rect.width - size.width) / 2);
  drawText(image, text, x, rect.y + Math.floor((rect.height - size.height) / 2), { scale, color: INK });
}

/** Draws the sheet: black text on white, cell images as given, grey where a cell has no image. */
export function composeSheet(input: SheetInput, options: SheetOptions = {}): { image: RgbImage; layout: SheetLayout } {
  const layout = layoutSheet(input, options);
  const scale = options.textScale ?? 2;
  const image: RgbImage = { width: layout.width, height: layout.height, data: new Uint8Array(layout.width * layout.height * 3).fill(WHITE) };
  label(image, input.title, layout.title, scale, true);
  input.columns.forEach((text, c) => label(image, text, layout.columnHeaders[c], scale));
  input.rows.forEach((text, r) => label(image, text, layout.rowHeaders[r], scale, true));
  input.cells.forEach((row, r) =>
    row.forEach((cell, c) => {
      const rect = layout.cells[r][c];
      if (cell.image) blit(image, cell.image, rect.x, rect.y);
      else fill(image, rect, PLACEHOLDER);
      label(image, cell.caption, layout.captions[r][c], scale);
    }),
  );
  return { image, layout };
}
