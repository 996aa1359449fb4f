import { describe, expect, it } from 'vitest';
import { encodePngStored } from '../../src/image/png-stored.js';
import { decodePng, encodePng } from '../../src/image/png.js';

function image(width: number, height: number, seed: number) {
  const data = new Uint8Array(width * height * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return { width, height, data };
}

describe('encodePngStored (the page\'s PNG writer)', () => {
  it('writes the pixels pngjs reads back, for one block and for several (> 65535 bytes of rows)', () => {
    for (const [w, h] of [[1, 1], [122, 62], [300, 200]] as const) {
      const img = image(w, h, w * 7 + h);
      const png = encodePngStored(img);
      const back = decodePng(png);
      expect([back.width, back.height]).toEqual([w, h]);
      expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
      // The same image as png.ts's file, only not compressed.
      expect(Buffer.from(decodePng(encodePng(img)).data).equals(Buffer.from(back.data))).toBe(true);
    }
  });

  it('refuses a buffer that does not match the size', () => {
    expect(() => encodePngStored({ width: 2, height: 2, data: new Uint8Array(11) })).toThrow(/needs 12 bytes/);
  });
});
