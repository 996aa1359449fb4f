/**
 * Structured hostile inputs for every reader of checkpoint/, generated from a seed: huge counts,
 * deep nesting, cycles through the pickle memo, lying lengths and offsets, wrong dtypes, hostile
 * config values, plus byte flips and cuts of the real fixtures. Shared by the suite's fuzz test
 * (a few hundred cases) and scripts/fuzz.ts (as many as it is given time for).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDiTCheckpoint, loadVaeCheckpoint, openStateDict, readNpy } from '../../src/checkpoint/index.js';
import { writeStoredZip } from '../helpers/checkpoint-writers.js';
import { ditTiny, vaeTiny } from '../helpers/fixtures.js';

/** A seeded PRNG (mulberry32): the same seed gives the same cases, so a failure can be replayed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** A number chosen to break things: negatives, fractions, huge, 2^31/2^32/2^53 edges, NaN-like. */
export function hostileNumber(r: Rng): number {
  return r.pick([0, -1, -2, 0.5, 1, 3, 7, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, 1e-300, 200000, r.int(1 << 20)]);
}

/** A JSON value a config field might hold instead of the number it should. */
function hostileJson(r: Rng, depth = 0): unknown {
  const k = r.int(depth > 3 ? 4 : 8);
  if (k === 0) return hostileNumber(r);
  if (k === 1) return null;
  if (k === 2) return r.pick(['', '32', '\u001b[2J', 'x'.repeat(1000), '0x10', '1e1']);
  if (k === 3) return r.next() < 0.5;
  if (k === 4) return Array.from({ length: r.int(5) }, () => hostileJson(r, depth + 1));
  if (k === 5) return { a: hostileJson(r, depth + 1) };
  if (k === 6) return [hostileNumber(r), hostileNumber(r)];
  return hostileNumber(r);
}

export type Reader = 'pickle/zip' | 'safetensors' | 'npy/npz' | 'config.json' | 'diffusers folder' | 'vae folder' | 'mutated fixture';

export interface FuzzCase {
  readonly reader: Reader;
  readonly name: string;
  /** Reads the input as dit-ts would; returns normally or throws. */
  run(): void;
}

/** What running one case gave: loaded (ok) or the error, with its time and memory growth. */
export interface Outcome {
  readonly c: FuzzCase;
  readonly ok: boolean;
  readonly error: unknown;
  readonly ms: number;
  /** CPU time of this process while it ran (user + system): unlike `ms`, not stretched by other processes' load. */
  readonly cpuMs: number;
  /** Heap + ArrayBuffer growth while it ran (what it kept, or left for the collector). */
  readonly bytes: number;
  /**
   * How far it pushed the process's peak resident memory above the resident memory it started
   * with: the kernel's high-water mark, so memory allocated and freed within the case counts.
   * 0 when the case stayed under an earlier peak (which the case that set it was checked against).
   */
  readonly peakBytes: number;
}

export function runCase(c: FuzzCase): Outcome {
  const used = (): number => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const peak = (): number => process.resourceUsage().maxRSS * 1024;
  const before = used();
  const rssBefore = process.memoryUsage.rss();
  const peakBefore = peak();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let error: unknown;
  try {
    c.run();
  } catch (e) {
    error = e;
  }
  const cpu = process.cpuUsage(cpu0);
  const ms = performance.now() - t0;
  const peakAfter = peak();
  return { c, ok: error === undefined, error, ms, cpuMs: (cpu.user + cpu.system) / 1000, bytes: used() - before, peakBytes: peakAfter > peakBefore ? peakAfter - rssBefore : 0 };
}

/** Opens a state dict and reads every tensor, as building a model does. */
export function readAll(file: string): void {
  const sd = openStateDict(file);
  try {
    for (const t of sd.tensors.values()) t.toFloat32();
  } finally {
    sd.close();
  }
}

/** Pickle opcode writer for the generators. */
class Pickle {
  readonly b: number[] = [0x80, 2];
  op(...x: number[]): this {
    for (const v of x) this.b.push(v & 0xff);
    return this;
  }
  u32(n: number): this {
    return this.op(n, n >>> 8, n >>> 16, n >>> 24);
  }
  str(s: string, lie = 0): this {
    const bytes = Buffer.from(s, 'utf-8');
    this.op(0x58).u32(bytes.length + lie);
    for (const x of bytes) this.b.push(x);
    return this;
  }
  global(m: string, n: string): this {
    this.op(0x63);
    for (const c of `${m}\n${n}\n`) this.b.push(c.charCodeAt(0));
    return this;
  }
  int(n: number): this {
    return n >= 0 && n < 256 ? this.op(0x4b, n) : this.op(0x4a).u32(n);
  }
  tuple(items: number[]): this {
    this.op(0x28);
    for (const x of items) this.int(x);
    return this.op(0x74);
  }
  /** _rebuild_tensor_v2 over storage `key` of `numel` elements of torch.`type`. */
  tensor(type: string, key: string, numel: number, offset: number, shape: number[], stride: number[]): this {
    this.global('torch._utils', '_rebuild_tensor_v2').op(0x28);
    this.op(0x28).str('storage').global('torch', type).str(key).str('cpu').int(numel).op(0x74, 0x51);
    this.int(offset).tuple(shape).tuple(stride).op(0x89).global('collections', 'OrderedDict').op(0x29, 0x52, 0x74, 0x52);
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from([...this.b, 0x2e]);
  }
}

function pickleCase(r: Rng): { name: string; pickle: Uint8Array; storageBytes: number } {
  const p = new Pickle();
  const kind = r.int(12);
  let name: string;
  switch (kind) {
    case 0: {
      const n = r.pick([65, 1000, 1 << 20]);
      name = `LONG4 of ${n} bytes`;
      p.op(0x8b).u32(n);
      for (let i = 0; i < Math.min(n, 4096); i++) p.op(0x7f);
      break;
    }
    case 1: {
      const n = r.pick([1000, 100_000, 300_000]);
      name = `${n} nested MARKs`;
      for (let i = 0; i < n; i++) p.op(0x28);
      break;
    }
    case 2: {
      const n = r.pick([10_000, 250_000]);
      name = `APPENDS of ${n} items`;
      p.op(0x5d, 0x28);
      for (let i = 0; i < n; i++) p.op(0x4b, 1);
      p.op(0x65);
      break;
    }
    case 3:
      name = 'a list containing itself through the memo, as a tensor size';
      p.op(0x7d).str('w').global('torch._utils', '_rebuild_tensor_v2').op(0x28);
      p.op(0x28).str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(4).op(0x74, 0x51).int(0);
      p.op(0x5d, 0x71, 7, 0x28, 0x68, 7, 0x65).tuple([1]).op(0x89, 0x74, 0x52, 0x73);
      break;
    case 4:
      name = '_rebuild_from_type_v2 whose arguments contain themselves';
      p.global('torch._tensor', '_rebuild_from_type_v2').op(0x71, 0, 0x5d, 0x71, 1, 0x28, 0x68, 0, 0x4e, 0x68, 1, 0x4e, 0x65, 0x52);
      break;
    case 5: {
      const lie = r.pick([1, 1000, 2 ** 31]);
      name = `BINUNICODE claiming ${lie} more bytes than it has`;
      p.str('abc', lie);
      break;
    }
    case 6: {
      const shape = [hostileNumber(r), hostileNumber(r)];
      const stride = [hostileNumber(r), hostileNumber(r)];
      const numel = r.pick([4, 16, hostileNumber(r)]);
      const offset = r.pick([0, 3, hostileNumber(r)]);
      name = `tensor of storage numel ${numel}, offset ${offset}, shape [${shape}], stride [${stride}]`;
      p.op(0x7d).str('w').tensor('FloatStorage', '0', numel, offset, shape, stride).op(0x73);
      break;
    }
    case 7: {
      const type = r.pick(['IntStorage', 'BoolStorage', 'ComplexFloatStorage', 'NoSuchStorage', 'QInt8Storage']);
      name = `tensor of torch.${type}`;
      p.op(0x7d).str('w').tensor(type, '0', 4, 0, [4], [1]).op(0x73);
      break;
    }
    case 8: {
      const fn = r.pick([['os', 'system'], ['builtins', 'eval'], ['subprocess', 'Popen'], ['torch', 'load'], ['builtins', 'getattr']] as const);
      name = `REDUCE of ${fn.join('.')}`;
      p.global(fn[0], fn[1]).op(0x28).str('touch /tmp/dit-fuzz-pwned').op(0x74, 0x52);
      break;
    }
    case 9: {
      const key = r.pick([256, 2 ** 31, 7]);
      name = `LONG_BINGET of memo ${key} never stored`;
      p.op(0x6a).u32(key);
      break;
    }
    case 10: {
      const n = r.pick([1000, 200_000]);
      name = `dict of ${n} keys sharing one tensor (memo)`;
      p.op(0x7d, 0x28).str('x_embedder.proj.weight').tensor('FloatStorage', '0', 16, 0, [1, 4, 2, 2], [16, 4, 2, 1]).op(0x71, 9);
      for (let i = 0; i < n; i++) p.str(`blocks.${i * 7919}.attn.qkv.bias`).op(0x68, 9);
      p.op(0x75);
      break;
    }
    default: {
      const op = r.pick([0x82, 0x97, 0x98, 0x8d, 0x96, 0x95, 0x31, 0x30, 0x2e, 0x62, 0xff]);
      name = `opcode 0x${op.toString(16)} on an empty stack, then junk`;
      p.op(op).op(...Array.from({ length: 9 }, () => r.int(256)));
    }
  }
  return { name, pickle: p.bytes(), storageBytes: r.pick([0, 16, 64]) };
}

function safetensorsHeader(r: Rng): { name: string; header: string; data: number; lie: bigint } {
  const kind = r.int(8);
  const entry = (dtype: unknown, shape: unknown, offs: unknown): string => JSON.stringify({ dtype, shape, data_offsets: offs });
  let header: string;
  let name: string;
  switch (kind) {
    case 0: {
      const n = r.pick([1000, 100_001, 300_000]);
      name = `${n} metadata entries`;
      header = `{"__metadata__":{${Array.from({ length: n }, (_, i) => `"${i}":""`).join(',')}}}`;
      break;
    }
    case 1: {
      const d = r.pick([100, 10_000, 500_000]);
      name = `nesting ${d} deep`;
      header = `{"w":${'['.repeat(d)}${']'.repeat(d)}}`;
      break;
    }
    case 2: {
      const dtype = r.pick(['F32', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'C64', '', null, 7]);
      name = `dtype ${JSON.stringify(dtype)}`;
      header = `{"w":${entry(dtype, [2], [0, 8])}}`;
      break;
    }
    case 3: {
      const shape = [hostileNumber(r), hostileNumber(r), hostileNumber(r)];
      name = `shape [${shape}]`;
      header = `{"w":${entry('F32', shape, [0, 16])}}`;
      break;
    }
    case 4: {
      const offs = [hostileNumber(r), hostileNumber(r)];
      name = `data_offsets [${offs}]`;
      header = `{"w":${entry('F32', [4], offs)}}`;
      break;
    }
    case 5:
      name = 'overlapping tensors';
      header = `{"a":${entry('F32', [4], [0, 16])},"b":${entry('F32', [4], [8, 24])}}`;
      break;
    case 6:
      name = 'a header that is not an object';
      header = r.pick(['[]', 'null', '"x"', '1', '{', '{"w":1}', '{"__proto__":{"dtype":"F32"}}']);
      break;
    default: {
      const v = hostileJson(r);
      name = `an entry ${JSON.stringify(v).slice(0, 40)}`;
      header = JSON.stringify({ w: v });
    }
  }
  const lie = r.next() < 0.2 ? BigInt(r.pick([-8, 1, 1000, 2 ** 40])) : 0n;
  return { name: lie ? `${name}, header length off by ${lie}` : name, header, data: r.pick([0, 16, 64]), lie };
}

function npyBytes(r: Rng): { name: string; bytes: Uint8Array } {
  const version = r.pick([1, 2, 3, 1, 9]);
  const descr = r.pick(["'<f4'", "'<i8'", "'>f4'", "'|b1'", "'<c8'", "'O'", '<f4', "'<f2'"]);
  const shape = r.pick([`(${hostileNumber(r)},)`, `(${hostileNumber(r)}, ${hostileNumber(r)}, ${hostileNumber(r)})`, '(2,)', '()', '(', `(${'1,'.repeat(10_000)})`, "'shape': (".repeat(10_000)]);
  const fortran = r.pick(['False', 'True', 'Maybe']);
  let text = `{'descr': ${descr}, 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  if (r.next() < 0.2) text = text.replace("'shape'", "'shap'");
  const h = Buffer.from(`${text}\n`, 'latin1');
  const lie = r.next() < 0.2 ? r.pick([1, 100, 2 ** 31, -h.length]) : 0;
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const len = Buffer.alloc(version === 1 ? 2 : 4);
  if (version === 1) len.writeUInt16LE((h.length + lie) & 0xffff);
  else len.writeUInt32LE((h.length + lie) >>> 0);
  const data = Buffer.alloc(r.pick([0, 8, 64]));
  return { name: `v${version} ${text.slice(0, 60)}${lie ? `, header length off by ${lie}` : ''}`, bytes: Buffer.concat([pre, len, h, data]) };
}

const DIT_FIELDS = ['input_size', 'patch_size', 'in_channels', 'hidden_size', 'depth', 'num_heads', 'mlp_ratio', 'class_dropout_prob', 'num_classes', 'learn_sigma'];
const DIFFUSERS_FIELDS = ['num_attention_heads', 'attention_head_dim', 'num_layers', 'sample_size', 'patch_size', 'in_channels', 'num_embeds_ada_norm'];
const VAE_FIELDS = ['in_channels', 'out_channels', 'block_out_channels', 'layers_per_block', 'latent_channels', 'norm_num_groups', 'scaling_factor'];

/** `base` with one to three fields replaced by hostile values. */
function hostileConfig(r: Rng, base: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const out = { ...base };
  for (let i = 0, n = 1 + r.int(3); i < n; i++) out[r.pick(fields)] = hostileJson(r);
  return out;
}

/** Makes `count` cases for each reader under `dir`, deterministically from `seed`. */
export function makeCases(dir: string, seed: number, count: number): FuzzCase[] {
  const r = new Rng(seed);
  const cases: FuzzCase[] = [];
  let n = 0;
  const file = (name: string, bytes: Uint8Array | string): string => {
    const f = path.join(dir, `${n++}-${name}`);
    fs.writeFileSync(f, bytes);
    return f;
  };
  const folder = (): string => {
    const d = path.join(dir, `d${n++}`);
    fs.mkdirSync(d);
    return d;
  };
  const ditConfig = JSON.parse(fs.readFileSync(ditTiny('config.json'), 'utf8')) as Record<string, unknown>;
  const vaeConfig = JSON.parse(fs.readFileSync(vaeTiny('config.json'), 'utf8')) as Record<string, unknown>;
  const fixtures = [ditTiny('model.pt'), ditTiny('model.safetensors'), ditTiny('sample0.npy'), vaeTiny('diffusion_pytorch_model.safetensors')].map((f) => fs.readFileSync(f));

  for (let i = 0; i < count; i++) {
    const pc = pickleCase(r);
    const pt = path.join(dir, `${n++}.pt`);
    writeStoredZip(pt, [
      { name: 'archive/data.pkl', data: pc.pickle },
      { name: 'archive/data/0', data: new Uint8Array(pc.storageBytes) },
    ]);
    cases.push({ reader: 'pickle/zip', name: pc.name, run: () => readAll(pt) });

    const sc = safetensorsHeader(r);
    const body = Buffer.from(sc.header, 'utf-8');
    const len = Buffer.alloc(8);
    len.writeBigInt64LE(BigInt(body.length) + sc.lie);
    const st = file('x.safetensors', Buffer.concat([len, body, Buffer.alloc(sc.data)]));
    cases.push({ reader: 'safetensors', name: sc.name, run: () => readAll(st) });

    const nc = npyBytes(r);
    const npy = file('x.npy', nc.bytes);
    cases.push({ reader: 'npy/npz', name: nc.name, run: () => readNpy(npy) });
    const npz = path.join(dir, `${n++}.npz`);
    writeStoredZip(npz, [{ name: 'a.npy', data: nc.bytes }]);
    cases.push({ reader: 'npy/npz', name: `npz of ${nc.name}`, run: () => readAll(npz) });

    const cfg = hostileConfig(r, ditConfig, DIT_FIELDS);
    const cdir = folder();
    fs.copyFileSync(ditTiny('model.safetensors'), path.join(cdir, 'model.safetensors'));
    fs.writeFileSync(path.join(cdir, 'config.json'), JSON.stringify(cfg));
    cases.push({ reader: 'config.json', name: JSON.stringify(cfg).slice(0, 120), run: () => loadDiTCheckpoint(cdir).weights.close() });

    const ddir = folder();
    fs.mkdirSync(path.join(ddir, 'transformer'));
    fs.copyFileSync(ditTiny('model.safetensors'), path.join(ddir, 'transformer', 'diffusion_pytorch_model.safetensors'));
    const dcfg = hostileConfig(r, { num_attention_heads: 4, attention_head_dim: 16, num_layers: 2, sample_size: 8, patch_size: 2, in_channels: 4, num_embeds_ada_norm: 10 }, DIFFUSERS_FIELDS);
    fs.writeFileSync(path.join(ddir, 'transformer', 'config.json'), JSON.stringify(dcfg));
    const index = r.pick([{ id2label: { 0: 'a', 1: 7, '-1': 'x', 99999999: 'far' } }, { id2label: hostileJson(r) }, { id2label: Object.fromEntries(Array.from({ length: 2000 }, (_, k) => [k, 'x'])) }]);
    fs.writeFileSync(path.join(ddir, 'model_index.json'), JSON.stringify(index));
    cases.push({ reader: 'diffusers folder', name: JSON.stringify(dcfg).slice(0, 120), run: () => loadDiTCheckpoint(ddir).weights.close() });

    const vdir = folder();
    fs.copyFileSync(vaeTiny('diffusion_pytorch_model.safetensors'), path.join(vdir, 'diffusion_pytorch_model.safetensors'));
    const vcfg = hostileConfig(r, vaeConfig, VAE_FIELDS);
    fs.writeFileSync(path.join(vdir, 'config.json'), JSON.stringify(vcfg));
    cases.push({ reader: 'vae folder', name: JSON.stringify(vcfg).slice(0, 120), run: () => loadVaeCheckpoint(vdir).weights.close() });

    const src = r.pick(fixtures);
    const m = Buffer.from(src);
    const how = r.int(3);
    let what: string;
    if (how === 0) {
      for (let k = 0; k < 8; k++) m[r.int(m.length)] = r.int(256);
      what = '8 random bytes changed';
    } else if (how === 1) {
      const at = r.int(Math.min(m.length, 256));
      m.writeUInt32LE(r.pick([0xffffffff, 0x7fffffff, 0]), Math.min(at, m.length - 4));
      what = `a length-like u32 at byte ${at} set to an extreme`;
    } else what = 'cut';
    const cut = how === 2 ? m.subarray(0, r.int(m.length)) : m;
    const ext = src === fixtures[0] ? '.pt' : src === fixtures[2] ? '.npy' : '.safetensors';
    const mf = file(`m${ext}`, cut);
    cases.push({ reader: 'mutated fixture', name: `${path.basename(mf)}: ${what}`, run: () => (ext === '.npy' ? readNpy(mf) : readAll(mf)) });
  }
  return cases;
}
