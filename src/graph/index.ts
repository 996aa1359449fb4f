/**
 * A small typed ONNX graph builder (no protobuf dependency).
 *
 * ```ts
 * const g = new GraphBuilder({ name: 'mlp' });               // ai.onnx opset 17 by default
 * const x = g.input('x', 'float32', ['N', 64]);               // "N": a symbolic batch dim
 * const w = g.weight('fc.weight', [128, 64], () => load());   // lazy: read when written
 * const b = g.weight('fc.bias', [128], bias);
 * const h = g.scope('fc', () => g.gemm(x, w, b, { transB: true }));   // (N, 128)
 * g.output(g.silu(h), 'y');
 * const graph = g.finish();
 * saveModel(graph, 'dir/model.onnx');   // + dir/model.onnx.data, streamed tensor by tensor
 * const bytes = encodeModel(graph);     // or all in memory, for small models
 * ```
 *
 * Every op method checks its inputs and infers output shapes when called; a mismatch or an op the
 * builder does not know throws GraphBuildError naming the node (scopes make names like
 * `blocks.3/attn/MatMul`). `g.node(op, inputs, attrs)` reaches any supported op by name
 * (those with a method, `com.microsoft:` prefix for contrib ops). Dims are numbers or one symbol
 * (`"N"`, `"N*256"` after flattening). Reshape/Split/Unsqueeze take constant lists.
 */
export { GraphBuilder, GraphBuildError } from './builder.js';
export type { Dim, ElemType, Graph, GraphBuilderOptions, GraphNode, Initializer, Shape, TensorData, Value } from './builder.js';
export { encodeModel } from './encode.js';
export { FLOAT16_MAX, toFloat16, toHalfBits } from './float16.js';
export { saveModel, type SavedModel } from './save.js';
