/** Past runs, kept in localStorage per browser: their settings and a small copy of the image. */
import type { GenerateRequest } from './client.js';

export interface HistoryEntry {
  readonly key: string;
  readonly when: number; // ms since epoch
  readonly model: string;
  readonly mode: 'single' | 'compare';
  readonly request: GenerateRequest;
  /** The grid as a data URL (downscaled when large); for compare runs, one per CFG value. */
  readonly images: readonly { readonly label: string; readonly src: string }[];
}

const STORAGE_KEY = 'dit-serve:history:v1';
const MAX_ENTRIES = 30;
/** localStorage holds about 5 MB per origin: keep each stored image small. */
const MAX_INLINE_BYTES = 120_000;
const THUMB_WIDTH = 320;

export function loadHistory(): HistoryEntry[] {
  try {
    const parsed = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '[]') as unknown;
    return Array.isArray(parsed) ? (parsed as HistoryEntry[]) : [];
  } catch {
    return [];
  }
}

export function saveHistory(entries: readonly HistoryEntry[]): HistoryEntry[] {
  let kept = entries.slice(0, MAX_ENTRIES);
  // Drop the oldest runs until the list fits the browser's quota.
  while (kept.length > 0) {
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(kept));
      return kept;
    } catch {
      kept = kept.slice(0, -1);
    }
  }
  localStorage.removeItem(STORAGE_KEY);
  return [];
}

function blobToDataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** The result PNG as a data URL: as is when small, else scaled to a thumbnail. */
export async function storableImage(url: string): Promise<string> {
  const blob = await (await fetch(url)).blob();
  if (blob.size <= MAX_INLINE_BYTES) return blobToDataUrl(blob);
  const bitmap = await createImageBitmap(blob);
  const scale = Math.min(1, THUMB_WIDTH / bitmap.width);
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL('image/jpeg', 0.85);
}
