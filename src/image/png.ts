/**
 * PNG in and out through pngjs (pure JS, no native download). Writes are atomic: bytes go to a
 * temporary file in the target folder, then a rename, so a crash or a full disk never leaves a
 * half-written PNG under the final name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import pngjs from 'pngjs';
import { FormatError, InternalError } from '../errors.js';
import { makeFolder, writeFileAtomic, writeFilesAtomic } from '../atomic-write.js';
import type { RgbImage } from './grid.js';

const { PNG } = pngjs;
const COLOR_RGB = 2;

/** Encodes an RGB image as an 8-bit RGB PNG (no alpha channel, as torchvision/PIL writes it). */
export function encodePng(image: RgbImage): Buffer {
  if (image.data.length !== image.width * image.height * 3) {
    throw new InternalError(`RGB image ${image.width}×${image.height} needs ${image.width * image.height * 3} bytes, has ${image.data.length}`);
  }
  const data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return PNG.sync.write({ width: image.width, height: image.height, data } as InstanceType<typeof PNG>, {
    colorType: COLOR_RGB,
    inputColorType: COLOR_RGB,
    inputHasAlpha: false,
  });
}

/** Decodes any PNG pngjs reads (grey, palette, 16-bit...) to 8-bit RGB; alpha is dropped, not blended. */
export function decodePng(bytes: Uint8Array, name = 'PNG data'): RgbImage {
  let decoded: { width: number; height: number; data: Buffer };
  try {
    decoded = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new FormatError(`${name} is not a readable PNG (${(err as Error).message}); re-save it as PNG`);
  }
  const { width, height, data: rgba } = decoded;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    data[i] = rgba[j];
    data[i + 1] = rgba[j + 1];
    data[i + 2] = rgba[j + 2];
  }
  return { width, height, data };
}

/** Writes bytes to `file` via a temporary sibling and a rename; the temporary file never survives an error. */
export function writePng(file: string, image: RgbImage): void {
  writeFileAtomic(file, encodePng(image));
}

export function readPng(file: string): RgbImage {
  return decodePng(fs.readFileSync(file), file);
}

/** One PNG per image, `000000.png`, `000001.png`, ... in `dir` (created if missing); returns the paths. */
export function saveEach(dir: string, images: readonly RgbImage[]): string[] {
  makeFolder(dir);
  const files = images.map((image, i) => [path.join(dir, `${String(i).padStart(6, '0')}.png`), encodePng(image)] as const);
  writeFilesAtomic(files);
  return files.map(([file]) => file);
}
