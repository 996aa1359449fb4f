/**
 * Hand-written protobuf encoding of the few ONNX messages a model needs (onnx/onnx.proto3:
 * ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto). Field numbers are
 * those of onnx.proto. Only encoding: the project never parses ONNX files back.
 *
 * Big tensors never pass through here: with external data an initializer carries only
 * location/offset/length, and its bytes are streamed to the `.data` file by save.ts.
 */

/** ONNX TensorProto.DataType codes for the element types the builder supports. */
export const ONNX_DTYPE = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10 } as const;
export type ElemType = keyof typeof ONNX_DTYPE;

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LEN = 2;

/** A growable byte buffer with protobuf primitives. */
export class ProtoWriter {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /** Varint of a non-negative or negative integer (negatives as 10-byte two's complement, as int64). */
  varint(v: number | bigint): void {
    let x = typeof v === 'bigint' ? v : BigInt(v);
    if (x < 0n) x = BigInt.asUintN(64, x);
    if (x < 0x80n) {
      this.byte(Number(x));
      return;
    }
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, v: number | bigint): void {
    this.tag(field, WIRE_VARINT);
    this.varint(v);
  }

  float(field: number, v: number): void {
    this.tag(field, WIRE_FIXED32);
    this.reserve(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, v, true);
    this.len += 4;
  }

  bytes(field: number, b: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, encode: (w: ProtoWriter) => void): void {
    const sub = new ProtoWriter();
    encode(sub);
    this.bytes(field, sub.finish());
  }

  /** Packed repeated varints (proto3 default for repeated scalars). */
  packedInts(field: number, values: readonly number[]): void {
    const sub = new ProtoWriter();
    for (const v of values) sub.varint(v);
    this.bytes(field, sub.finish());
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

export type AttrValue = number | string | readonly number[] | { readonly floats: readonly number[] } | { readonly float: number };

/** An attribute: integers are INT/INTS, `{ float }`/`{ floats }` are FLOAT/FLOATS, strings are STRING. */
function encodeAttribute(w: ProtoWriter, name: string, value: AttrValue): void {
  w.string(1, name);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}=${value}: use { float: ${value} } for a float attribute`);
    w.int(20, 2); // AttributeType.INT
    w.int(3, value);
  } else if (typeof value === 'string') {
    w.int(20, 3); // STRING
    w.string(4, value);
  } else if (Array.isArray(value)) {
    w.int(20, 7); // INTS
    w.packedInts(8, value as number[]);
  } else if (!Array.isArray(value) && 'floats' in value) {
    w.int(20, 6); // FLOATS
    w.bytes(7, new Uint8Array(Float32Array.from(value.floats).buffer)); // packed fixed32, little-endian host
  } else {
    w.int(20, 1); // FLOAT
    w.float(2, (value as { readonly float: number }).float);
  }
}

export type ShapeDim = number | string;

export function encodeValueInfo(w: ProtoWriter, name: string, elem: ElemType, shape: readonly ShapeDim[]): void {
  w.string(1, name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, ONNX_DTYPE[elem]);
      tensor.message(2, (shp) => {
        for (const d of shape) {
          shp.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
}

/** Where an initializer's bytes live: inline (raw_data) or in the external data file. */
export type TensorPayload = { readonly raw: Uint8Array } | { readonly location: string; readonly offset: number; readonly length: number };

export function encodeTensor(w: ProtoWriter, name: string, elem: ElemType, dims: readonly number[], payload: TensorPayload): void {
  for (const d of dims) w.int(1, d); // dims: repeated int64 (unpacked is always accepted)
  w.int(2, ONNX_DTYPE[elem]);
  w.string(8, name);
  if ('raw' in payload) {
    w.bytes(9, payload.raw);
  } else {
    const entry = (key: string, value: string) =>
      w.message(13, (e) => {
        e.string(1, key);
        e.string(2, value);
      });
    entry('location', payload.location);
    entry('offset', String(payload.offset));
    entry('length', String(payload.length));
    w.int(14, 1); // data_location = EXTERNAL
  }
}

export interface EncodedNode {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: ReadonlyArray<readonly [string, AttrValue]>;
}

export function encodeNode(w: ProtoWriter, node: EncodedNode): void {
  for (const i of node.inputs) w.string(1, i);
  for (const o of node.outputs) w.string(2, o);
  w.string(3, node.name);
  w.string(4, node.opType);
  for (const [k, v] of node.attributes) w.message(5, (a) => encodeAttribute(a, k, v));
  if (node.domain) w.string(7, node.domain);
}
