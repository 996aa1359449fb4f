/**
 * Writing a finished Graph as an ONNX model: in memory (small models) or to a file with external
 * data (`model.onnx` + `model.onnx.data`), streaming each initializer to disk as it is produced so
 * that at most one weight tensor is in memory at a time. Protobuf caps a message at 2 GB, so any
 * model whose weights approach that must use external data.
 */
import { closeSync, openSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import type { Graph, TensorData } from './builder.js';
import { GraphBuildError } from './builder.js';
import { encodeNode, encodeTensor, encodeValueInfo, ProtoWriter, type TensorPayload } from './proto.js';

/** Tensors of at least this many bytes go to the external data file. */
const EXTERNAL_MIN_BYTES = 1024;
/** Page alignment lets ONNX Runtime map the weights straight from the file. */
const EXTERNAL_ALIGN = 4096;
/** A little under protobuf's 2 GiB limit, leaving room for the graph itself. */
const INLINE_MAX_BYTES = 1.8 * 1024 ** 3;

function irVersionFor(opset: number): number {
  // onnx/docs/Versioning.md: opset 17-18 ↔ IR 8, 19-20 ↔ IR 9, 21-22 ↔ IR 10.
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

function bytesOf(t: TensorData): Uint8Array {
  return new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
}

function encode(graph: Graph, payloads: readonly TensorPayload[]): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, irVersionFor(graph.opsetVersion));
  w.string(2, 'dit-ts');
  w.message(7, (g) => {
    for (const n of graph.nodes) g.message(1, (m) => encodeNode(m, n));
    g.string(2, graph.name);
    graph.initializers.forEach((init, i) => g.message(5, (t) => encodeTensor(t, init.name, init.dtype, init.dims, payloads[i]!)));
    for (const v of graph.inputs) g.message(11, (m) => encodeValueInfo(m, v.name, v.dtype, v.shape));
    for (const v of graph.outputs) g.message(12, (m) => encodeValueInfo(m, v.name, v.dtype, v.shape));
  });
  w.message(8, (o) => o.int(2, graph.opsetVersion));
  if (graph.usesMicrosoftDomain) {
    w.message(8, (o) => {
      o.string(1, 'com.microsoft');
      o.int(2, 1);
    });
  }
  return w.finish();
}

/** The whole model as one byte array, weights inline. Refuses models too big for protobuf. */
export function encodeModel(graph: Graph): Uint8Array {
  let total = 0;
  const payloads = graph.initializers.map((init) => {
    const raw = bytesOf(init.data());
    total += raw.byteLength;
    if (total > INLINE_MAX_BYTES) {
      throw new GraphBuildError(`graph "${graph.name}": weights exceed ${INLINE_MAX_BYTES} bytes, too big for one protobuf; use saveModel() (external data)`);
    }
    return { raw };
  });
  return encode(graph, payloads);
}

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
export function saveModel(graph: Graph, path: string): SavedModel {
  const dataPath = `${path}.data`;
  const tmpData = `${dataPath}.tmp-${process.pid}`;
  const fd = openSync(tmpData, 'w');
  let offset = 0;
  let weightBytes = 0;
  const payloads: TensorPayload[] = [];
  let external = 0;
  try {
    for (const init of graph.initializers) {
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
  } finally {
    closeSync(fd);
  }
  const tmpModel = `${path}.tmp-${process.pid}`;
  writeFileSync(tmpModel, encode(graph, payloads));
  if (external > 0) renameSync(tmpData, dataPath);
  else unlinkSync(tmpData);
  renameSync(tmpModel, path);
  return { modelPath: path, dataPath: external > 0 ? dataPath : undefined, weightBytes };
}
