/**
 * pytorch-fid's FID Inception on ONNX Runtime: 8-bit RGB images of any one size → 2048-d pool3
 * features. The graph takes a fixed image size (the resize to 299×299 is its first op), so one
 * session is built per size met, on first use, from the same weights (the last two are kept).
 */
import { InternalError } from '../errors.js';
import type { LazyTensor } from '../checkpoint/types.js';
import { encodeModel } from '../graph/index.js';
import { buildInceptionGraph, INCEPTION_FEATURES } from '../models/inception.js';
import { createSession, type Session, type SessionOptions } from './session.js';

/** A batch of RGB images of one size, interleaved (N, H, W, 3), values 0..255. */
export interface RgbBatch {
  readonly data: Uint8Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
}

export interface InceptionFeatures {
  /** (count, 2048) pool3 features, row-major. */
  features(batch: RgbBatch): Promise<Float32Array>;
  release(): Promise<void>;
}

/** Sessions kept for different image sizes; the oldest is released when a new size needs one. */
const MAX_SESSIONS = 2;

/** The weights stay referenced: a new image size builds a new graph from them. */
export function createInceptionFeatures(weights: ReadonlyMap<string, LazyTensor>, opts: SessionOptions = {}): InceptionFeatures {
  const sessions = new Map<string, Promise<Session>>();
  const sessionFor = async (h: number, w: number): Promise<Session> => {
    const key = `${h}x${w}`;
    let s = sessions.get(key);
    if (!s) {
      // A folder of many image sizes must not pile up sessions (each holds the 95 MB of weights).
      for (const [k, old] of sessions) {
        if (sessions.size < MAX_SESSIONS) break;
        sessions.delete(k);
        await (await old).release();
      }
      s = createSession(encodeModel(buildInceptionGraph(weights, [h, w])), opts);
      sessions.set(key, s);
    }
    return s;
  };
  return {
    async features(batch) {
      const { data, count, height, width } = batch;
      if (data.length !== count * height * width * 3) {
        throw new InternalError(`an RGB batch of ${count} × ${height}×${width} needs ${count * height * width * 3} bytes, has ${data.length}`);
      }
      const session = await sessionFor(height, width);
      const out = await session.run({ images: { type: 'float32', data: Float32Array.from(data), dims: [count, height, width, 3] } });
      const f = out.features!;
      if (f.data.length !== count * INCEPTION_FEATURES) throw new InternalError(`Inception returned ${f.data.length} values for ${count} images`);
      return f.data;
    },
    async release() {
      for (const s of sessions.values()) await (await s).release();
      sessions.clear();
    },
  };
}
