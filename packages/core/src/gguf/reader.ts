/**
 * GGUF (versions 2 and 3) reader: header, metadata key/values, tensor infos and tensor data.
 *
 * Layout (little-endian): magic "GGUF", u32 version, u64 tensor count, u64 metadata count,
 * metadata key/values, tensor infos, padding to the alignment, then the tensor data section.
 * Tensor offsets are relative to the start of the data section and aligned to
 * `general.alignment` (default 32).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { halfToFloat } from '../onnx/tensor.js';

/** GGUF metadata value type codes. */
export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** ggml tensor element types (the ones a GGUF file may name). */
export const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  6: 'Q5_0',
  7: 'Q5_1',
  8: 'Q8_0',
  9: 'Q8_1',
  10: 'Q2_K',
  11: 'Q3_K',
  12: 'Q4_K',
  13: 'Q5_K',
  14: 'Q6_K',
  15: 'Q8_K',
  16: 'IQ2_XXS',
  17: 'IQ2_XS',
  18: 'IQ3_XXS',
  19: 'IQ1_S',
  20: 'IQ4_NL',
  21: 'IQ3_S',
  22: 'IQ2_S',
  23: 'IQ4_XS',
  24: 'I8',
  25: 'I16',
  26: 'I32',
  27: 'I64',
  28: 'F64',
  29: 'IQ1_M',
  30: 'BF16',
  34: 'TQ1_0',
  35: 'TQ2_0',
  39: 'MXFP4',
};

export const GGML_TYPE_F32 = 0;
export const GGML_TYPE_F16 = 1;

/** A metadata value. 64-bit integers are bigint; arrays keep their element type. */
export type GgufScalar = number | bigint | boolean | string;
export interface GgufArray {
  elementType: GgufValueType;
  values: GgufValue[];
}
export type GgufValue = GgufScalar | GgufArray;

export interface GgufMetadataEntry {
  type: GgufValueType;
  value: GgufValue;
}

export interface GgufTensorInfo {
  name: string;
  /** GGUF dimension order: dims[0] varies fastest (ggml `ne`). */
  dims: number[];
  /** Row-major shape (dims reversed), e.g. [out, in] for a linear weight. */
  shape: number[];
  /** ggml type code. */
  type: number;
  typeName: string;
  /** Offset relative to the data section. */
  offset: number;
  /** Element count. */
  elements: number;
}

export interface GgufFile {
  /** Where it came from (for error messages). */
  source: string;
  version: number;
  alignment: number;
  metadata: Map<string, GgufMetadataEntry>;
  tensors: GgufTensorInfo[];
  /** Absolute byte offset of the data section. */
  dataOffset: number;
  /** Total file size in bytes. */
  size: number;
  /** Read `length` bytes at absolute `offset` (from memory, or from the file on demand). */
  read(offset: number, length: number): Uint8Array;
}

export class GgufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GgufError';
  }
}

const MAGIC = 0x46554747; // "GGUF" read as little-endian u32

/** Thrown when the header runs past the prefix read so far (the file has more). */
class NeedMore extends Error {}

class Cursor {
  pos = 0;
  private readonly view: DataView;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });
  constructor(
    /** The first bytes of the file (the header must lie inside them). */
    private readonly bytes: Uint8Array,
    private readonly fileSize: number,
    private readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.bytes.byteLength) {
      if (this.pos + n <= this.fileSize) throw new NeedMore();
      throw new GgufError(`${this.source}: truncated GGUF file while reading ${what} at byte ${this.pos} (needs ${n} bytes, file has ${this.fileSize})`);
    }
  }
  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  i8(what: string): number {
    this.need(1, what);
    return this.view.getInt8(this.pos++);
  }
  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  i16(what: string): number {
    this.need(2, what);
    const v = this.view.getInt16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f32(what: string): number {
    this.need(4, what);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(what: string): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  i64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** A u64 that must fit a JS number (counts, lengths, offsets). */
  size(what: string): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new GgufError(`${this.source}: ${what} = ${v} is too large`);
    }
    return Number(v);
  }
  string(what: string): string {
    const n = this.size(`${what} length`);
    this.need(n, what);
    const s = this.decoder.decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}

function readValue(c: Cursor, type: number, key: string, depth = 0): GgufValue {
  const what = `metadata '${key}'`;
  switch (type) {
    case GgufValueType.UINT8:
      return c.u8(what);
    case GgufValueType.INT8:
      return c.i8(what);
    case GgufValueType.UINT16:
      return c.u16(what);
    case GgufValueType.INT16:
      return c.i16(what);
    case GgufValueType.UINT32:
      return c.u32(what);
    case GgufValueType.INT32:
      return c.i32(what);
    case GgufValueType.FLOAT32:
      return c.f32(what);
    case GgufValueType.BOOL: {
      const b = c.u8(what);
      if (b > 1) throw new GgufError(`${what}: bool byte is ${b}, expected 0 or 1`);
      return b === 1;
    }
    case GgufValueType.STRING:
      return c.string(what);
    case GgufValueType.UINT64:
      return c.u64(what);
    case GgufValueType.INT64:
      return c.i64(what);
    case GgufValueType.FLOAT64:
      return c.f64(what);
    case GgufValueType.ARRAY: {
      if (depth > 8) throw new GgufError(`${what}: arrays nested too deeply`);
      const elementType = c.u32(`${what} array element type`);
      const count = c.size(`${what} array length`);
      if (!(elementType in GgufValueType)) {
        throw new GgufError(`${what}: unknown array element type ${elementType}`);
      }
      const values: GgufValue[] = new Array(count);
      for (let i = 0; i < count; i++) values[i] = readValue(c, elementType, key, depth + 1);
      return { elementType, values };
    }
    default:
      throw new GgufError(`${what}: unknown value type ${type} at byte ${c.pos - 4}`);
  }
}

/**
 * Parse a GGUF file (a path or its bytes). From a path only the header is read now; tensor
 * data are read on demand, so files larger than memory buffers allow can be imported.
 */
export function readGguf(input: string | Uint8Array, source?: string): GgufFile {
  const src = source ?? (typeof input === 'string' ? input : '<gguf bytes>');
  if (typeof input !== 'string') {
    const bytes = input;
    const read = (offset: number, length: number) => bytes.subarray(offset, offset + length);
    return parseHeader(bytes, bytes.byteLength, src, read);
  }
  const fd = openSync(input, 'r');
  try {
    const size = fstatSync(fd).size;
    const read = (offset: number, length: number): Uint8Array => {
      const out = new Uint8Array(length);
      const f = openSync(input, 'r');
      try {
        let got = 0;
        while (got < length) {
          const r = readSync(f, out, got, length - got, offset + got);
          if (r === 0) throw new GgufError(`${src}: file ended at byte ${offset + got} while reading ${length} bytes at ${offset}`);
          got += r;
        }
      } finally {
        closeSync(f);
      }
      return out;
    };
    // Grow the prefix until the whole header (metadata + tensor infos) fits.
    for (let prefix = Math.min(size, 1 << 20); ; prefix = Math.min(size, prefix * 4)) {
      const head = new Uint8Array(prefix);
      readSync(fd, head, 0, prefix, 0);
      try {
        return parseHeader(head, size, src, read);
      } catch (e) {
        if (!(e instanceof NeedMore) || prefix >= size) throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
}

function parseHeader(bytes: Uint8Array, fileSize: number, src: string, read: (offset: number, length: number) => Uint8Array): GgufFile {
  const c = new Cursor(bytes, fileSize, src);
  const magic = c.u32('magic');
  if (magic !== MAGIC) {
    throw new GgufError(`${src}: not a GGUF file (magic bytes ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ')})`);
  }
  const version = c.u32('version');
  if (version !== 2 && version !== 3) {
    throw new GgufError(`${src}: GGUF version ${version} is not supported (only 2 and 3)`);
  }
  const tensorCount = c.size('tensor count');
  const kvCount = c.size('metadata count');

  const metadata = new Map<string, GgufMetadataEntry>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata key #${i}`);
    const type = c.u32(`metadata '${key}' type`);
    const value = readValue(c, type, key);
    if (metadata.has(key)) throw new GgufError(`${src}: duplicate metadata key '${key}'`);
    metadata.set(key, { type, value });
  }

  let alignment = 32;
  const al = metadata.get('general.alignment');
  if (al) {
    if (typeof al.value !== 'number' || !Number.isInteger(al.value) || al.value <= 0 || (al.value & (al.value - 1)) !== 0) {
      throw new GgufError(`${src}: general.alignment must be a positive power of two, got ${String(al.value)}`);
    }
    alignment = al.value;
  }

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`tensor #${i} name`);
    const nDims = c.u32(`tensor '${name}' dimension count`);
    if (nDims > 8) throw new GgufError(`${src}: tensor '${name}' has ${nDims} dimensions`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.size(`tensor '${name}' dimension ${d}`));
    const type = c.u32(`tensor '${name}' type`);
    const offset = c.size(`tensor '${name}' offset`);
    if (offset % alignment !== 0) {
      throw new GgufError(`${src}: tensor '${name}' offset ${offset} is not a multiple of the alignment ${alignment}`);
    }
    if (names.has(name)) throw new GgufError(`${src}: duplicate tensor name '${name}'`);
    names.add(name);
    const elements = dims.reduce((a, b) => a * b, 1);
    tensors.push({
      name,
      dims,
      shape: [...dims].reverse(),
      type,
      typeName: GGML_TYPE_NAMES[type] ?? `unknown type ${type}`,
      offset,
      elements,
    });
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const file: GgufFile = { source: src, version, alignment, metadata, tensors, dataOffset, size: fileSize, read };
  for (const t of tensors) {
    const size = tensorByteSize(t);
    if (size !== null && dataOffset + t.offset + size > fileSize) {
      throw new GgufError(`${src}: tensor '${t.name}' (${t.typeName} ${t.dims.join('x')}) extends past the end of the file`);
    }
  }
  return file;
}

/** Byte size for the types we can decode; null for the others. */
function tensorByteSize(t: GgufTensorInfo): number | null {
  if (t.type === GGML_TYPE_F32) return t.elements * 4;
  if (t.type === GGML_TYPE_F16) return t.elements * 2;
  return null;
}

/**
 * A tensor's data as float32 in row-major `shape` order (GGUF data are already laid out
 * with dims[0] fastest, i.e. row-major in the reversed shape). Quantised types throw.
 */
export function tensorData(file: GgufFile, tensor: GgufTensorInfo | string): Float32Array {
  const t = typeof tensor === 'string' ? findTensor(file, tensor) : tensor;
  const start = file.dataOffset + t.offset;
  if (t.type === GGML_TYPE_F32) {
    const out = new Float32Array(t.elements);
    const raw = file.read(start, t.elements * 4);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < t.elements; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  if (t.type === GGML_TYPE_F16) {
    const out = new Float32Array(t.elements);
    const raw = file.read(start, t.elements * 2);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < t.elements; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
    return out;
  }
  throw new GgufError(`${file.source}: tensor '${t.name}' has type ${t.typeName}; only F32 and F16 tensors are supported (quantised GGUF files are not yet)`);
}

export function findTensor(file: GgufFile, name: string): GgufTensorInfo {
  const t = file.tensors.find((x) => x.name === name);
  if (!t) throw new GgufError(`${file.source}: tensor '${name}' not found`);
  return t;
}

/** A metadata value, or undefined. */
export function meta(file: GgufFile, key: string): GgufValue | undefined {
  return file.metadata.get(key)?.value;
}

/** A required numeric metadata value (any integer or float type). */
export function metaNumber(file: GgufFile, key: string, fallback?: number): number {
  const v = meta(file, key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new GgufError(`${file.source}: metadata '${key}' is missing`);
  }
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new GgufError(`${file.source}: metadata '${key}' should be a number, got ${describe(v)}`);
}

export function metaString(file: GgufFile, key: string, fallback?: string): string {
  const v = meta(file, key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new GgufError(`${file.source}: metadata '${key}' is missing`);
  }
  if (typeof v === 'string') return v;
  throw new GgufError(`${file.source}: metadata '${key}' should be a string, got ${describe(v)}`);
}

export function metaBool(file: GgufFile, key: string, fallback: boolean): boolean {
  const v = meta(file, key);
  if (v === undefined) return fallback;
  if (typeof v === 'boolean') return v;
  throw new GgufError(`${file.source}: metadata '${key}' should be a bool, got ${describe(v)}`);
}

/** A metadata array's elements (optionally checked to be of one element type). */
export function metaArray(file: GgufFile, key: string, elementType?: GgufValueType): GgufValue[] {
  const v = meta(file, key);
  if (v === undefined) throw new GgufError(`${file.source}: metadata '${key}' is missing`);
  if (typeof v !== 'object') throw new GgufError(`${file.source}: metadata '${key}' should be an array, got ${describe(v)}`);
  if (elementType !== undefined && v.elementType !== elementType) {
    throw new GgufError(`${file.source}: metadata '${key}' should be an array of ${GgufValueType[elementType]}, got ${GgufValueType[v.elementType]}`);
  }
  return v.values;
}

function describe(v: GgufValue): string {
  if (typeof v === 'object') return `array of ${GgufValueType[v.elementType]}[${v.values.length}]`;
  return `${typeof v} ${String(v)}`;
}

/** Plain-JSON view of the metadata (bigints as strings, long arrays summarised). */
export function metadataSummary(file: GgufFile, maxArray = 8): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const conv = (v: GgufValue): unknown => {
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'object') {
      if (v.values.length > maxArray) return `[${GgufValueType[v.elementType]} x ${v.values.length}]`;
      return v.values.map(conv);
    }
    return v;
  };
  for (const [k, e] of file.metadata) out[k] = conv(e.value);
  return out;
}
