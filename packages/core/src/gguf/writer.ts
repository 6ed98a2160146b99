/**
 * GGUF writer (versions 2 and 3; the two share one layout): metadata key/values of every value
 * type, F32 and F16 tensors from float values, or raw bytes of any ggml type.
 *
 * Layout (little-endian): magic "GGUF", u32 version, u64 tensor count, u64 metadata count, the
 * metadata, the tensor infos (name, u32 dim count, u64 dims fastest first, u32 type, u64 offset),
 * zero padding to the alignment, then the data section; each tensor's offset is relative to the
 * data section and a multiple of the alignment (`general.alignment`, default 32).
 *
 * Metadata entries use the reader's representation (`{ type, value }`, arrays as
 * `{ elementType, values }`), so a file read with readGguf can be written back unchanged; the
 * `ggufValue` constructors build entries by hand.
 */
import { writeFileSync } from 'node:fs';
import { floatToHalfBits } from '../onnx/tensor.js';
import { GGML_TYPE_F16, GGML_TYPE_F32, GgufError, GgufValueType, type GgufArray, type GgufMetadataEntry, type GgufValue } from './reader.js';

/** A tensor given as float values in row-major order, stored as F32 (default) or F16. */
export interface GgufFloatTensor {
  name: string;
  /** Row-major shape, e.g. [out, in] for a linear weight (written reversed, as GGUF dims). */
  shape: readonly number[];
  data: Float32Array | readonly number[];
  type?: 'F32' | 'F16';
}

/** A tensor given as its stored bytes, of any ggml type code (quantised blocks included). */
export interface GgufRawTensor {
  name: string;
  /** GGUF dimension order: dims[0] varies fastest. */
  dims: readonly number[];
  type: number;
  bytes: Uint8Array;
}

export type GgufTensorInput = GgufFloatTensor | GgufRawTensor;

export interface GgufContent {
  /** Key/value pairs in file order (an array of pairs, or a Map such as GgufFile.metadata). */
  metadata: Iterable<readonly [string, GgufMetadataEntry]>;
  tensors: readonly GgufTensorInput[];
}

export interface WriteGgufOptions {
  /** 3 (default) or 2. */
  version?: number;
  /**
   * Data alignment. Default: the `general.alignment` entry when present, else 32. A value other
   * than 32 with no `general.alignment` entry adds one (a reader would otherwise assume 32).
   */
  alignment?: number;
  /**
   * Check the content (default true): version, alignment, unique keys and tensor names, value
   * types and ranges, data lengths. `false` writes exactly what it is given, for building
   * malformed files to test readers with.
   */
  check?: boolean;
}

/** Metadata entry constructors. 64-bit integers take a bigint (or a safe integer). */
export const ggufValue = {
  u8: (value: number): GgufMetadataEntry => ({ type: GgufValueType.UINT8, value }),
  i8: (value: number): GgufMetadataEntry => ({ type: GgufValueType.INT8, value }),
  u16: (value: number): GgufMetadataEntry => ({ type: GgufValueType.UINT16, value }),
  i16: (value: number): GgufMetadataEntry => ({ type: GgufValueType.INT16, value }),
  u32: (value: number): GgufMetadataEntry => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): GgufMetadataEntry => ({ type: GgufValueType.INT32, value }),
  f32: (value: number): GgufMetadataEntry => ({ type: GgufValueType.FLOAT32, value }),
  f64: (value: number): GgufMetadataEntry => ({ type: GgufValueType.FLOAT64, value }),
  u64: (value: bigint | number): GgufMetadataEntry => ({ type: GgufValueType.UINT64, value: BigInt(value) }),
  i64: (value: bigint | number): GgufMetadataEntry => ({ type: GgufValueType.INT64, value: BigInt(value) }),
  bool: (value: boolean): GgufMetadataEntry => ({ type: GgufValueType.BOOL, value }),
  str: (value: string): GgufMetadataEntry => ({ type: GgufValueType.STRING, value }),
  /** An array whose elements are entries of type `elementType` (checked when written). */
  array: (elementType: GgufValueType, elements: readonly GgufMetadataEntry[]): GgufMetadataEntry => {
    elements.forEach((e, i) => {
      if (e.type !== elementType) {
        throw new GgufError(`ggufValue.array: element ${i} has type ${GgufValueType[e.type]}, expected ${GgufValueType[elementType]}`);
      }
    });
    return { type: GgufValueType.ARRAY, value: { elementType, values: elements.map((e) => e.value) } };
  },
  /** Convenience arrays of plain values. */
  strings: (values: readonly string[]): GgufMetadataEntry => ({ type: GgufValueType.ARRAY, value: { elementType: GgufValueType.STRING, values: [...values] } }),
  f32s: (values: readonly number[]): GgufMetadataEntry => ({ type: GgufValueType.ARRAY, value: { elementType: GgufValueType.FLOAT32, values: [...values] } }),
  i32s: (values: readonly number[]): GgufMetadataEntry => ({ type: GgufValueType.ARRAY, value: { elementType: GgufValueType.INT32, values: [...values] } }),
};

/** Growable little-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;
  private grow(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number) {
    this.grow(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  i8(v: number) {
    this.grow(1);
    this.view.setInt8(this.length, v);
    this.length += 1;
  }
  u16(v: number) {
    this.grow(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  i16(v: number) {
    this.grow(2);
    this.view.setInt16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number) {
    this.grow(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  i32(v: number) {
    this.grow(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number) {
    this.grow(4);
    this.view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number) {
    this.grow(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  u64(v: bigint) {
    this.grow(8);
    this.view.setBigUint64(this.length, v, true);
    this.length += 8;
  }
  i64(v: bigint) {
    this.grow(8);
    this.view.setBigInt64(this.length, v, true);
    this.length += 8;
  }
  bytes(b: Uint8Array) {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(BigInt(b.length));
    this.bytes(b);
  }
  padTo(align: number) {
    while (this.length % align !== 0) this.u8(0);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const INT_RANGES: Partial<Record<GgufValueType, [number, number]>> = {
  [GgufValueType.UINT8]: [0, 0xff],
  [GgufValueType.INT8]: [-0x80, 0x7f],
  [GgufValueType.UINT16]: [0, 0xffff],
  [GgufValueType.INT16]: [-0x8000, 0x7fff],
  [GgufValueType.UINT32]: [0, 0xffffffff],
  [GgufValueType.INT32]: [-0x80000000, 0x7fffffff],
};

function checkValue(type: GgufValueType, v: GgufValue, where: string, depth = 0): void {
  const fail = (why: string) => {
    throw new GgufError(`metadata '${where}': ${why}`);
  };
  const range = INT_RANGES[type];
  if (range) {
    if (typeof v !== 'number' || !Number.isInteger(v)) fail(`${GgufValueType[type]} needs an integer, got ${typeof v} ${String(v)}`);
    if ((v as number) < range[0] || (v as number) > range[1]) fail(`${v} is outside the ${GgufValueType[type]} range`);
    return;
  }
  switch (type) {
    case GgufValueType.FLOAT32:
    case GgufValueType.FLOAT64:
      if (typeof v !== 'number') fail(`${GgufValueType[type]} needs a number, got ${typeof v}`);
      return;
    case GgufValueType.UINT64:
    case GgufValueType.INT64: {
      if (typeof v !== 'bigint' && !(typeof v === 'number' && Number.isSafeInteger(v)))
        fail(`${GgufValueType[type]} needs a bigint or safe integer, got ${typeof v} ${String(v)}`);
      const b = BigInt(v as bigint | number);
      const [lo, hi] = type === GgufValueType.UINT64 ? [0n, 2n ** 64n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
      if (b < lo || b > hi) fail(`${b} is outside the ${GgufValueType[type]} range`);
      return;
    }
    case GgufValueType.BOOL:
      if (typeof v !== 'boolean') fail(`BOOL needs a boolean, got ${typeof v}`);
      return;
    case GgufValueType.STRING:
      if (typeof v !== 'string') fail(`STRING needs a string, got ${typeof v}`);
      return;
    case GgufValueType.ARRAY: {
      if (typeof v !== 'object' || v === null || !Array.isArray((v as GgufArray).values)) fail('ARRAY needs { elementType, values }');
      if (depth > 8) fail('arrays nested too deeply');
      const a = v as GgufArray;
      if (!(a.elementType in GgufValueType)) fail(`unknown array element type ${a.elementType}`);
      a.values.forEach((e, i) => checkValue(a.elementType, e, `${where}[${i}]`, depth + 1));
      return;
    }
    default:
      fail(`unknown value type ${String(type)}`);
  }
}

/** The number types' writers, by GGUF value type. */
const NUMBER_WRITERS: Partial<Record<GgufValueType, 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64'>> = {
  [GgufValueType.UINT8]: 'u8',
  [GgufValueType.INT8]: 'i8',
  [GgufValueType.UINT16]: 'u16',
  [GgufValueType.INT16]: 'i16',
  [GgufValueType.UINT32]: 'u32',
  [GgufValueType.INT32]: 'i32',
  [GgufValueType.FLOAT32]: 'f32',
  [GgufValueType.FLOAT64]: 'f64',
};

function writeValue(w: ByteWriter, type: GgufValueType, v: GgufValue): void {
  const number = NUMBER_WRITERS[type];
  if (number) {
    w[number](v as number);
    return;
  }
  switch (type) {
    case GgufValueType.UINT64:
      w.u64(BigInt(v as bigint | number));
      return;
    case GgufValueType.INT64:
      w.i64(BigInt(v as bigint | number));
      return;
    case GgufValueType.BOOL:
      w.u8(v ? 1 : 0);
      return;
    case GgufValueType.STRING:
      w.str(v as string);
      return;
    case GgufValueType.ARRAY: {
      const a = v as GgufArray;
      w.u32(a.elementType);
      w.u64(BigInt(a.values.length));
      for (const e of a.values) writeValue(w, a.elementType, e);
      return;
    }
    default:
      throw new GgufError(`cannot write metadata value type ${String(type)}`);
  }
}

/** A tensor's GGUF dims, type code and stored bytes. */
function tensorBytes(t: GgufTensorInput, check: boolean): { dims: number[]; type: number; bytes: Uint8Array } {
  if ('bytes' in t) return { dims: [...t.dims], type: t.type, bytes: t.bytes };
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (check) {
    if (t.shape.length === 0 || t.shape.some((d) => !Number.isInteger(d) || d <= 0)) {
      throw new GgufError(`tensor '${t.name}': bad shape [${t.shape.join(', ')}]`);
    }
    if (t.data.length !== n) throw new GgufError(`tensor '${t.name}': shape [${t.shape.join(', ')}] needs ${n} values, got ${t.data.length}`);
  }
  const type = t.type ?? 'F32';
  const dims = [...t.shape].reverse();
  if (type === 'F32') {
    const out = new Uint8Array(n * 4);
    const view = new DataView(out.buffer);
    for (let i = 0; i < n; i++) view.setFloat32(i * 4, t.data[i]!, true);
    return { dims, type: GGML_TYPE_F32, bytes: out };
  }
  if (type === 'F16') {
    const out = new Uint8Array(n * 2);
    const view = new DataView(out.buffer);
    for (let i = 0; i < n; i++) view.setUint16(i * 2, floatToHalfBits(t.data[i]!), true);
    return { dims, type: GGML_TYPE_F16, bytes: out };
  }
  throw new GgufError(`tensor '${t.name}': type must be 'F32' or 'F16', got '${String(type)}'`);
}

/**
 * Encode a GGUF file; when `path` is given, also write it there. Returns the file's bytes.
 */
export function writeGguf(path: string | null, content: GgufContent, opts: WriteGgufOptions = {}): Uint8Array {
  const check = opts.check ?? true;
  const version = opts.version ?? 3;
  const metadata = [...content.metadata].map(([k, e]) => [k, e] as const);
  const alignEntry = metadata.find(([k]) => k === 'general.alignment');
  let alignment = opts.alignment ?? (alignEntry && typeof alignEntry[1].value === 'number' ? alignEntry[1].value : 32);

  if (check) {
    if (version !== 2 && version !== 3) throw new GgufError(`GGUF version must be 2 or 3, got ${version}`);
    if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
      throw new GgufError(`alignment must be a positive power of two, got ${alignment}`);
    }
    const keys = new Set<string>();
    for (const [k, e] of metadata) {
      if (keys.has(k)) throw new GgufError(`duplicate metadata key '${k}'`);
      keys.add(k);
      checkValue(e.type, e.value, k);
    }
    if (alignEntry && alignEntry[1].value !== alignment) {
      throw new GgufError(`metadata general.alignment is ${String(alignEntry[1].value)} but the alignment option is ${alignment}`);
    }
    const names = new Set<string>();
    for (const t of content.tensors) {
      if (names.has(t.name)) throw new GgufError(`duplicate tensor name '${t.name}'`);
      names.add(t.name);
    }
  }
  if (!alignEntry && alignment !== 32) metadata.push(['general.alignment', ggufValue.u32(alignment)]);
  if (!Number.isInteger(alignment) || alignment <= 0) alignment = 32;

  const tensors = content.tensors.map((t) => ({ name: t.name, ...tensorBytes(t, check) }));
  const w = new ByteWriter();
  w.bytes(new TextEncoder().encode('GGUF'));
  w.u32(version);
  w.u64(BigInt(tensors.length));
  w.u64(BigInt(metadata.length));
  for (const [k, e] of metadata) {
    w.str(k);
    w.u32(e.type);
    writeValue(w, e.type, e.value);
  }
  let offset = 0;
  const offsets = tensors.map((t) => {
    const at = offset;
    offset = Math.ceil((offset + t.bytes.length) / alignment) * alignment;
    return at;
  });
  tensors.forEach((t, i) => {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(BigInt(d));
    w.u32(t.type);
    w.u64(BigInt(offsets[i]!));
  });
  w.padTo(alignment);
  const base = w.length;
  tensors.forEach((t, i) => {
    while (w.length < base + offsets[i]!) w.u8(0);
    w.bytes(t.bytes);
  });
  const bytes = w.result();
  if (path !== null) writeFileSync(path, bytes);
  return bytes;
}
