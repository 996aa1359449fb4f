/**
 * ONNX model bytes from a finished Graph: browser-safe (no file system), so onnxruntime-web can
 * use it too. Files with external data are written by save.ts.
 */
import type { Graph, TensorData } from './builder.js';
import { GraphBuildError } from './builder.js';
import { encodeNode, encodeTensor, encodeValueInfo, ProtoWriter, type TensorPayload } from './proto.js';

/** A little under protobuf's 2 GiB limit, leaving room for the graph itself. */
const INLINE_MAX_BYTES = 1.8 * 1024 ** 3;

function irVersionFor(opset: number): number {
  // ONNX's versioning table (onnx/onnx, docs/Versioning.md): opset 17-18 ↔ IR 8, 19-20 ↔ IR 9, 21-22 ↔ IR 10.
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

export function bytesOf(t: TensorData): Uint8Array {
  return new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
}

export function encodeGraph(graph: Graph, payloads: readonly TensorPayload[]): Uint8Array {
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
  return encodeGraph(graph, payloads);
}

