/**
 * Static shapes with an optional symbolic dimension. A dim is a number or a symbol: `"N"` or a
 * multiple of one, `"N*256"` (what flattening (N, 256, D) to (N·256, D) produces). That is all the
 * algebra a batch-symbolic transformer needs; two different symbols in one product are refused.
 */
export type Dim = number | string;
export type Shape = readonly Dim[];

interface Sym {
  readonly name: string; // '' for a pure number
  readonly k: number; // multiplier
}

function toSym(d: Dim): Sym {
  if (typeof d === 'number') return { name: '', k: d };
  const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\*(\d+))?$/.exec(d);
  if (!m) throw new Error(`symbolic dim "${d}" is not of the form NAME or NAME*INTEGER`);
  return { name: m[1]!, k: m[2] === undefined ? 1 : Number(m[2]) };
}

function fromSym(s: Sym): Dim {
  if (s.name === '') return s.k;
  return s.k === 1 ? s.name : `${s.name}*${s.k}`;
}

function mulSym(a: Sym, b: Sym): Sym {
  if (a.name !== '' && b.name !== '') throw new Error(`product of two symbolic dims (${fromSym(a)} · ${fromSym(b)}) is not supported`);
  return { name: a.name || b.name, k: a.k * b.k };
}

export function isValidDim(d: Dim): boolean {
  if (typeof d === 'number') return Number.isInteger(d) && d >= 0;
  try {
    toSym(d);
    return true;
  } catch {
    return false;
  }
}

export function dimEq(a: Dim, b: Dim): boolean {
  return fromSym(toSym(a)) === fromSym(toSym(b));
}

function dimProduct(shape: Shape): Dim {
  return fromSym(shape.reduce<Sym>((acc, d) => mulSym(acc, toSym(d)), { name: '', k: 1 }));
}

/** a / b when exact (same symbol or none in b), else undefined. */
function dimDiv(a: Dim, b: Dim): Dim | undefined {
  const x = toSym(a);
  const y = toSym(b);
  if (y.name !== '' && y.name !== x.name) return undefined;
  if (y.k === 0 || x.k % y.k !== 0) return undefined;
  return fromSym({ name: y.name === '' ? x.name : '', k: x.k / y.k });
}

export function dimAdd(a: Dim, b: Dim): Dim | undefined {
  const x = toSym(a);
  const y = toSym(b);
  if (x.name !== y.name) return undefined;
  return fromSym({ name: x.name, k: x.k + y.k });
}

export function formatShape(s: Shape): string {
  return `(${s.join(', ')})`;
}

/** numpy broadcasting; returns undefined when two dims are neither equal nor 1. */
export function broadcastShapes(shapes: readonly Shape[]): Dim[] | undefined {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const j = s.length - rank + i;
      if (j < 0) continue;
      const e = s[j]!;
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (!dimEq(d, e)) return undefined;
    }
    out.push(d);
  }
  return out;
}

/** Output shape of ONNX Reshape for a constant target (0 copies the input dim, -1 is inferred). */
export function reshapeShape(input: Shape, target: readonly number[]): Dim[] | string {
  const out: Dim[] = [];
  let inferAt = -1;
  for (let i = 0; i < target.length; i++) {
    const t = target[i]!;
    if (t === 0) {
      if (i >= input.length) return `target[${i}] = 0 copies a dim the input (rank ${input.length}) does not have`;
      out.push(input[i]!);
    } else if (t === -1) {
      if (inferAt >= 0) return 'more than one -1 in the target shape';
      inferAt = i;
      out.push(-1);
    } else if (t > 0 && Number.isInteger(t)) {
      out.push(t);
    } else {
      return `target[${i}] = ${t} is not a positive integer, 0 or -1`;
    }
  }
  const total = dimProduct(input);
  if (inferAt >= 0) {
    const known = dimProduct(out.filter((_, i) => i !== inferAt));
    const q = dimDiv(total, known);
    if (q === undefined) return `cannot infer -1: ${total} elements do not divide by ${known}`;
    out[inferAt] = q;
  } else if (!dimEq(total, dimProduct(out))) {
    return `element counts differ: ${total} vs ${dimProduct(out)}`;
  }
  return out;
}
