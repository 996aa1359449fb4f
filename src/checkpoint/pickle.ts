/**
 * A restricted unpickler (protocols 0–5, as far as state dicts need). It never imports or executes
 * anything: GLOBAL only records a (module, name) reference, and every call a pickle asks for
 * (REDUCE, INST, OBJ) goes through `hooks.call`, which rebuilds the few known reconstruction
 * functions and rejects the rest by name. Classes instantiated without a call (NEWOBJ, e.g.
 * argparse.Namespace) become inert PickleObject placeholders.
 */
import { FormatError } from '../errors.js';

/** Longest binary integer (LONG1/LONG4) accepted, in bytes; the text forms get the same bound in digits. */
export const MAX_LONG_BYTES = 64;
const MAX_LONG_DIGITS = Math.ceil(MAX_LONG_BYTES * 8 * Math.log10(2));
const TEXT_INT = new RegExp(`^[-+]?\\d{1,${MAX_LONG_DIGITS}}$`);

/** A reference to a Python global, e.g. torch._utils._rebuild_tensor_v2. Never resolved. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of a class we do not rebuild: kept as inert data (class name, args, state). */
export class PickleObject {
  state: unknown = undefined;
  readonly items: unknown[] = [];
  constructor(
    readonly cls: PickleGlobal,
    readonly args: readonly unknown[],
  ) {}
}

export interface UnpickleHooks {
  /** Resolves a persistent id (torch: a storage record). */
  persistentLoad(pid: unknown): unknown;
  /** Performs an allowed call or throws a FormatError naming `fn`. */
  call(fn: PickleGlobal, args: unknown[]): unknown;
}

/** Parses `data` and returns the top object. Dicts are Maps (insertion order), tuples and lists arrays. */
export function unpickle(data: Uint8Array, hooks: UnpickleHooks, where: string): unknown {
  return unpickleAt(data, 0, hooks, where).value;
}

/**
 * Parses the pickle starting at byte `start` of `data` (which may hold more after it, as legacy
 * torch.save files hold several pickles in a row); returns its object and the byte after its STOP.
 */
export function unpickleAt(data: Uint8Array, start: number, hooks: UnpickleHooks, where: string): { value: unknown; end: number } {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8');
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let pos = start;

  const fail = (msg: string): never => {
    throw new FormatError(`${where}: pickle ${msg} (at byte ${pos}); the file is corrupt or not a PyTorch checkpoint`);
  };
  const need = (n: number): void => {
    if (n < 0 || pos + n > data.length) fail(`ends early: ${n} more bytes needed, ${data.length - pos} left`);
  };
  const u8 = (): number => (need(1), data[pos++]!);
  const u16 = (): number => (need(2), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = (): number => (need(4), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = (): number => (need(4), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(data.length)) fail(`length ${v} exceeds the ${data.length}-byte pickle`);
    return Number(v);
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    pos += n;
    return data.subarray(pos - n, pos);
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 1 << 20) fail('text line without end');
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('MARK missing');
    return stack.splice(m!);
  };
  const asInt = (v: bigint): number | bigint => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
  const longFrom = (n: number): number | bigint => {
    // A state dict holds sizes, strides and offsets: 8 bytes each at most. A longer integer is
    // hostile, and building it costs time quadratic in its length.
    if (n > MAX_LONG_BYTES) fail(`integer of ${n} bytes is longer than the ${MAX_LONG_BYTES} bytes a checkpoint ever needs`);
    const b = bytes(n);
    if (n === 0) return 0;
    let hex = '';
    for (let i = n - 1; i >= 0; i--) hex += b[i]!.toString(16).padStart(2, '0');
    let v = BigInt(`0x${hex}`);
    if (b[n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
    return asInt(v);
  };
  const setItems = (target: unknown, kv: unknown[]): void => {
    if (kv.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) {
      if (target instanceof Map) target.set(kv[i], kv[i + 1]);
      else if (target instanceof PickleObject) target.items.push([kv[i], kv[i + 1]]);
      else fail('SETITEM on something that is not a dict');
    }
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    // A loop, not push(...items): spreading 200k items overflows the call stack.
    const into = Array.isArray(target) ? target : target instanceof PickleObject ? target.items : undefined;
    if (into === undefined) fail('APPEND on something that is not a list');
    for (const item of items) into!.push(item);
  };
  const instantiate = (cls: unknown, args: unknown): unknown => {
    if (!(cls instanceof PickleGlobal)) fail('NEWOBJ of something that is not a class');
    if (!Array.isArray(args)) fail('NEWOBJ arguments are not a tuple');
    const g = cls as PickleGlobal;
    // cls.__new__ without __init__: plain containers rebuild as such, anything else stays inert.
    if (g.qualifiedName === 'collections.OrderedDict' || g.qualifiedName === 'builtins.dict') return new Map();
    if (g.qualifiedName === 'builtins.list' || g.qualifiedName === 'builtins.set') return [];
    return new PickleObject(g, args as unknown[]);
  };
  const call = (fn: unknown, args: unknown): unknown => {
    if (!(fn instanceof PickleGlobal)) fail(`REDUCE of a ${describe(fn)}, which is not a global function`);
    if (!Array.isArray(args)) fail('REDUCE arguments are not a tuple');
    return hooks.call(fn as PickleGlobal, args as unknown[]);
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const v = u8();
        if (v > 5) fail(`protocol ${v} is newer than 5`);
        break;
      }
      case 0x95: // FRAME: framing only, the data follows inline
        u64();
        break;
      case 0x2e: // STOP
        return { value: top(), end: pos };
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: { // LONG1
        stack.push(longFrom(u8()));
        break;
      }
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        stack.push(longFrom(n));
        break;
      }
      case 0x49: { // INT (text): also True/False as 01/00
        const s = line().trim();
        if (s === '01') stack.push(true);
        else if (s === '00') stack.push(false);
        else {
          if (!TEXT_INT.test(s)) fail(`INT "${s.slice(0, 20)}" is not a number of at most ${MAX_LONG_DIGITS} digits`);
          stack.push(asInt(BigInt(s)));
        }
        break;
      }
      case 0x4c: { // LONG (text)
        const s = line().trim().replace(/L$/, '');
        if (!TEXT_INT.test(s)) fail(`LONG "${s.slice(0, 20)}" is not a number of at most ${MAX_LONG_DIGITS} digits`);
        stack.push(asInt(BigInt(s)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian double)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: // FLOAT (text)
        stack.push(Number.parseFloat(line()));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(bytes(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(bytes(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(bytes(u64())));
        break;
      case 0x56: // UNICODE (text, raw-unicode-escape)
        stack.push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))));
        break;
      case 0x54: { // BINSTRING (Python 2 str)
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        stack.push(latin1.decode(bytes(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(bytes(u8())));
        break;
      case 0x53: { // STRING (text repr)
        const s = line().trim();
        const q = s[0];
        if ((q !== "'" && q !== '"') || s[s.length - 1] !== q || s.length < 2) fail('STRING is not quoted');
        stack.push(s.slice(1, -1));
        break;
      }
      case 0x42: // BINBYTES
        stack.push(bytes(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(bytes(u64()).slice());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x6c: // LIST
      case 0x74: // TUPLE
      case 0x91: // FROZENSET
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x64: { // DICT
        const kv = popMark();
        const m = new Map();
        setItems(m, kv);
        stack.push(m);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: // APPENDS
      case 0x90: { // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: { // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        stack.push(new PickleGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(new PickleGlobal(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(instantiate(cls, args));
        break;
      }
      case 0x92: { // NEWOBJ_EX
        pop(); // kwargs: kept nowhere, the object is inert anyway
        const args = pop();
        const cls = pop();
        stack.push(instantiate(cls, args));
        break;
      }
      case 0x69: { // INST: calls the class
        const module = line();
        const name = line();
        stack.push(call(new PickleGlobal(module, name), popMark()));
        break;
      }
      case 0x6f: { // OBJ: calls the class
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class');
        stack.push(call(items[0], items.slice(1)));
        break;
      }
      case 0x62: { // BUILD: __setstate__ is never called; placeholders keep the state as data
        const state = pop();
        const target = top();
        if (target instanceof PickleObject) target.state = state;
        break;
      }
      case 0x50: // PERSID
        stack.push(hooks.persistentLoad(line()));
        break;
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()));
        break;
      case 0x70: // PUT
        memo.set(Number.parseInt(line(), 10), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        const key = op === 0x67 ? Number.parseInt(line(), 10) : op === 0x68 ? u8() : u32();
        if (!memo.has(key)) fail(`memo entry ${key} used before it was stored`);
        stack.push(memo.get(key));
        break;
      }
      case 0x82:
      case 0x83:
      case 0x84:
        fail('uses the copyreg extension registry (EXT1/2/4), which would import code; not supported');
        break;
      case 0x97:
      case 0x98:
        fail('uses out-of-band buffers (protocol 5 NEXT_BUFFER), which checkpoints do not; not supported');
        break;
      default:
        fail(`opcode 0x${op.toString(16).padStart(2, '0')} is unknown`);
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'tuple/list';
  if (v instanceof Map) return 'dict';
  if (v instanceof PickleObject) return `${v.cls.qualifiedName} object`;
  return typeof v;
}
