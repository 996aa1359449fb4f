/**
 * Writing a finished Graph as `model.onnx` + `model.onnx.data` (external data), streaming each
 * initializer to disk as it is produced so that at most one weight tensor is in memory at a time.
 * Protobuf caps a message at 2 GB, so any model whose weights approach that must be saved this way.
 * It yields to the event loop between tensors, so that a signal handler (Ctrl-C: remove the
 * unfinished model, runtime/temporaries.ts) runs during a build of seconds or minutes.
 */
import { closeSync, openSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import type { Graph } from './builder.js';
import { bytesOf, encodeGraph } from './encode.js';
import type { TensorPayload } from './proto.js';

/** Tensors of at least this many bytes go to the external data file. */
const EXTERNAL_MIN_BYTES = 1024;
/** Page alignment lets ONNX Runtime map the weights straight from the file. */
const EXTERNAL_ALIGN = 4096;

export interface SavedModel {
  readonly modelPath: string;
  readonly dataPath: string | undefined;
  readonly weightBytes: number;
}

/**
 * Writes `path` (the graph) and `path + ".data"` (weights ≥ 1 KiB, page-aligned), streaming one
 * initializer at a time. Both files are written under temporary names and renamed at the end, so a
 * crash never leaves a half-written model behind a valid name.
 */
export async function saveModel(graph: Graph, path: string): Promise<SavedModel> {
  const dataPath = `${path}.data`;
  const tmpData = `${dataPath}.tmp-${process.pid}`;
  const fd = openSync(tmpData, 'w');
  let offset = 0;
  let weightBytes = 0;
  const payloads: TensorPayload[] = [];
  let external = 0;
  try {
    for (const init of graph.initializers) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const raw = bytesOf(init.data());
      weightBytes += raw.byteLength;
      if (raw.byteLength < EXTERNAL_MIN_BYTES) {
        payloads.push({ raw: raw.slice() });
        continue;
      }
      offset = Math.ceil(offset / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
      let done = 0;
      while (done < raw.byteLength) done += writeSync(fd, raw, done, raw.byteLength - done, offset + done);
      payloads.push({ location: basename(dataPath), offset, length: raw.byteLength });
      offset += raw.byteLength;
      external++;
    }
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmpData);
    throw err;
  }
  closeSync(fd);
  const tmpModel = `${path}.tmp-${process.pid}`;
  writeFileSync(tmpModel, encodeGraph(graph, payloads));
  if (external > 0) renameSync(tmpData, dataPath);
  else unlinkSync(tmpData);
  renameSync(tmpModel, path);
  return { modelPath: path, dataPath: external > 0 ? dataPath : undefined, weightBytes };
}
