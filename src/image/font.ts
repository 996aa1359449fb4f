/**
 * A 5×7 bitmap font for printable ASCII (plus × and ·), drawn for this project, so contact sheets need no system
 * fonts. Each glyph is 7 rows of 5 columns above the baseline ('#' ink, '.' paper) and 2 rows
 * below it, where only g, j, p, q and y ink (without them "steps" reads "sters"); text advances 6
 * columns per character (one blank column between glyphs) and 10 rows per line, times an integer scale.
 */
import { InternalError } from '../errors.js';
import type { RgbImage } from './grid.js';

export const GLYPH_WIDTH = 5;
/** Rows from the top of a glyph to its baseline: capitals and digits fill them. */
export const ASCENT = 7;
/** Rows below the baseline, inked by descenders only. */
export const DESCENT = 2;
/** Rows of every glyph, descender rows included. */
export const GLYPH_HEIGHT = ASCENT + DESCENT;
/** Horizontal step per character: the glyph plus one blank column. */
export const ADVANCE = 6;
/** Vertical step per line: the glyph plus one blank row. */
export const LINE_HEIGHT = GLYPH_HEIGHT + 1;

// prettier-ignore
const GLYPH_ROWS: Record<string, string> = {
  ' ': '..... ..... ..... ..... ..... ..... .....',
  '!': '..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..',
  '"': '.#.#. .#.#. ..... ..... ..... ..... .....',
  '#': '.#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.',
  '$': '..#.. .#### #.#.. .###. ..#.# ####. ..#..',
  '%': '##... ##..# ...#. ..#.. .#... #..## ...##',
  '&': '.##.. #..#. #.#.. .#... #.#.# #..#. .##.#',
  "'": '..#.. ..#.. ..... ..... ..... ..... .....',
  '(': '...#. ..#.. .#... .#... .#... ..#.. ...#.',
  ')': '.#... ..#.. ...#. ...#. ...#. ..#.. .#...',
  '*': '..... ..#.. #.#.# .###. #.#.# ..#.. .....',
  '+': '..... ..#.. ..#.. ##### ..#.. ..#.. .....',
  ',': '..... ..... ..... ..... .##.. ..#.. .#...',
  '-': '..... ..... ..... ##### ..... ..... .....',
  '.': '..... ..... ..... ..... ..... .##.. .##..',
  '/': '..... ....# ...#. ..#.. .#... #.... .....',
  '0': '.###. #...# #..## #.#.# ##..# #...# .###.',
  '1': '..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.',
  '2': '.###. #...# ....# ...#. ..#.. .#... #####',
  '3': '##### ...#. ..#.. ...#. ....# #...# .###.',
  '4': '...#. ..##. .#.#. #..#. ##### ...#. ...#.',
  '5': '##### #.... ####. ....# ....# #...# .###.',
  '6': '..##. .#... #.... ####. #...# #...# .###.',
  '7': '##### ....# ...#. ..#.. .#... .#... .#...',
  '8': '.###. #...# #...# .###. #...# #...# .###.',
  '9': '.###. #...# #...# .#### ....# ...#. .##..',
  ':': '..... .##.. .##.. ..... .##.. .##.. .....',
  ';': '..... .##.. .##.. ..... .##.. ..#.. .#...',
  '<': '...#. ..#.. .#... #.... .#... ..#.. ...#.',
  '=': '..... ..... ##### ..... ##### ..... .....',
  '>': '.#... ..#.. ...#. ....# ...#. ..#.. .#...',
  '?': '.###. #...# ....# ...#. ..#.. ..... ..#..',
  '@': '.###. #...# ....# .##.# #.#.# #.#.# .###.',
  'A': '.###. #...# #...# ##### #...# #...# #...#',
  'B': '####. #...# #...# ####. #...# #...# ####.',
  'C': '.###. #...# #.... #.... #.... #...# .###.',
  'D': '###.. #..#. #...# #...# #...# #..#. ###..',
  'E': '##### #.... #.... ####. #.... #.... #####',
  'F': '##### #.... #.... ####. #.... #.... #....',
  'G': '.###. #...# #.... #.### #...# #...# .####',
  'H': '#...# #...# #...# ##### #...# #...# #...#',
  'I': '.###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  'J': '..### ...#. ...#. ...#. ...#. #..#. .##..',
  'K': '#...# #..#. #.#.. ##... #.#.. #..#. #...#',
  'L': '#.... #.... #.... #.... #.... #.... #####',
  'M': '#...# ##.## #.#.# #.#.# #...# #...# #...#',
  'N': '#...# #...# ##..# #.#.# #..## #...# #...#',
  'O': '.###. #...# #...# #...# #...# #...# .###.',
  'P': '####. #...# #...# ####. #.... #.... #....',
  'Q': '.###. #...# #...# #...# #.#.# #..#. .##.#',
  'R': '####. #...# #...# ####. #.#.. #..#. #...#',
  'S': '.#### #.... #.... .###. ....# ....# ####.',
  'T': '##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  'U': '#...# #...# #...# #...# #...# #...# .###.',
  'V': '#...# #...# #...# #...# #...# .#.#. ..#..',
  'W': '#...# #...# #...# #.#.# #.#.# #.#.# .#.#.',
  'X': '#...# #...# .#.#. ..#.. .#.#. #...# #...#',
  'Y': '#...# #...# #...# .#.#. ..#.. ..#.. ..#..',
  'Z': '##### ....# ...#. ..#.. .#... #.... #####',
  '[': '.###. .#... .#... .#... .#... .#... .###.',
  '\\': '..... #.... .#... ..#.. ...#. ....# .....',
  ']': '.###. ...#. ...#. ...#. ...#. ...#. .###.',
  '^': '..#.. .#.#. #...# ..... ..... ..... .....',
  '_': '..... ..... ..... ..... ..... ..... #####',
  '`': '.#... ..#.. ..... ..... ..... ..... .....',
  'a': '..... ..... .###. ....# .#### #...# .####',
  'b': '#.... #.... #.##. ##..# #...# #...# ####.',
  'c': '..... ..... .###. #.... #.... #...# .###.',
  'd': '....# ....# .##.# #..## #...# #...# .####',
  'e': '..... ..... .###. #...# ##### #.... .###.',
  'f': '..##. .#..# .#... ###.. .#... .#... .#...',
  'g': '..... ..... .#### #...# #...# #...# .#### ....# .###.',
  'h': '#.... #.... #.##. ##..# #...# #...# #...#',
  'i': '..#.. ..... .##.. ..#.. ..#.. ..#.. .###.',
  'j': '...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..',
  'k': '#.... #.... #..#. #.#.. ##... #.#.. #..#.',
  'l': '.##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.',
  'm': '..... ..... ##.#. #.#.# #.#.# #...# #...#',
  'n': '..... ..... #.##. ##..# #...# #...# #...#',
  'o': '..... ..... .###. #...# #...# #...# .###.',
  'p': '..... ..... ####. #...# #...# #...# ####. #.... #....',
  'q': '..... ..... .#### #...# #...# #...# .#### ....# ....#',
  'r': '..... ..... #.##. ##..# #.... #.... #....',
  's': '..... ..... .###. #.... .###. ....# ####.',
  't': '.#... .#... ###.. .#... .#... .#..# ..##.',
  'u': '..... ..... #...# #...# #...# #..## .##.#',
  'v': '..... ..... #...# #...# #...# .#.#. ..#..',
  'w': '..... ..... #...# #...# #.#.# #.#.# .#.#.',
  'x': '..... ..... #...# .#.#. ..#.. .#.#. #...#',
  'y': '..... ..... #...# #...# #...# #...# .#### ....# .###.',
  'z': '..... ..... ##### ...#. ..#.. .#... #####',
  '{': '...#. ..#.. ..#.. .#... ..#.. ..#.. ...#.',
  '|': '..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..',
  '}': '.#... ..#.. ..#.. ...#. ..#.. ..#.. .#...',
  '~': '..... ..... .#... #.#.# ...#. ..... .....',
  // Two non-ASCII signs that labels of sizes and products use ("256×256", "s·step").
  '·': '..... ..... ..... ..#.. ..... ..... .....',
  '×': '..... #...# .#.#. ..#.. .#.#. #...# .....',
};

/** Drawn for any character the font lacks, so a missing glyph is visible rather than silent. */
const MISSING = '##### #...# #...# #...# #...# #...# #####';

/** A glyph as rows of booleans, (GLYPH_HEIGHT, GLYPH_WIDTH). */
export type Glyph = readonly (readonly boolean[])[];

/** A table entry of ASCENT rows gets blank descender rows; descenders give all GLYPH_HEIGHT. */
function parseGlyph(rows: string): Glyph {
  const glyph = rows.split(' ').map((row) => [...row].map((cell) => cell === '#'));
  while (glyph.length < GLYPH_HEIGHT) glyph.push(new Array<boolean>(GLYPH_WIDTH).fill(false));
  return glyph;
}

const GLYPHS = new Map<string, Glyph>(Object.entries(GLYPH_ROWS).map(([ch, rows]) => [ch, parseGlyph(rows)]));
const MISSING_GLYPH = parseGlyph(MISSING);

/** The glyph for one character; characters the font lacks get a hollow box. */
export function glyphFor(ch: string): Glyph {
  return GLYPHS.get(ch) ?? MISSING_GLYPH;
}

/** Every character the font draws, in code order. */
export function fontCharacters(): string[] {
  return [...GLYPHS.keys()].sort();
}

export interface TextStyle {
  /** Integer pixel multiplier; 1 draws 5×7 glyphs. */
  readonly scale?: number;
  /** RGB ink colour; default black. */
  readonly color?: readonly [number, number, number];
}

function checkScale(scale: number): void {
  if (!Number.isInteger(scale) || scale < 1) {
    throw new InternalError(`text scale ${scale} must be a whole number ≥ 1`);
  }
}

/**
 * The box of one line of text: width without the trailing blank column, height down to the
 * baseline. Descenders reach DESCENT × scale rows further, so a band that centres this box needs
 * that much padding below it (the contact sheet's bands have it).
 */
export function measureText(text: string, scale = 1): { width: number; height: number } {
  checkScale(scale);
  const n = [...text].length;
  return { width: n === 0 ? 0 : (n * ADVANCE - 1) * scale, height: ASCENT * scale };
}

/**
 * Draws one line of text with its top-left ink corner at (x, y); pixels outside the image are
 * clipped, so a label too long for its band is cut rather than wrapping onto a neighbour.
 */
export function drawText(image: RgbImage, text: string, x: number, y: number, style: TextStyle = {}): void {
  const scale = style.scale ?? 1;
  checkScale(scale);
  const [r, g, b] = style.color ?? [0, 0, 0];
  let penX = Math.round(x);
  const top = Math.round(y);
  for (const ch of text) {
    const glyph = glyphFor(ch);
    for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
      for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
        if (!glyph[gy][gx]) continue;
        for (let sy = 0; sy < scale; sy++) {
          const py = top + gy * scale + sy;
          if (py < 0 || py >= image.height) continue;
          for (let sx = 0; sx < scale; sx++) {
            const px = penX + gx * scale + sx;
            if (px < 0 || px >= image.width) continue;
            const o = (py * image.width + px) * 3;
            image.data[o] = r;
            image.data[o + 1] = g;
            image.data[o + 2] = b;
          }
        }
      }
    }
    penX += ADVANCE * scale;
  }
}
