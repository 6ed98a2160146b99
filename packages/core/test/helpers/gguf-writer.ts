/**
 * A small GGUF writer for tests: builds files with chosen versions, alignment, metadata of every
 * value type, and tensors of any ggml type (raw bytes), so the reader's edge cases can be checked
 * against bytes laid out by hand here.
 */
import { GgufValueType } from '../../src/gguf/reader.js';

export type WValue =
  | { type: GgufValueType.UINT8 | GgufValueType.INT8 | GgufValueType.UINT16 | GgufValueType.INT16 | GgufValueType.UINT32 | GgufValueType.INT32 | GgufValueType.FLOAT32 | GgufValueType.FLOAT64; value: number }
  | { type: GgufValueType.UINT64 | GgufValueType.INT64; value: bigint }
  | { type: GgufValueType.BOOL; value: boolean }
  | { type: GgufValueType.STRING; value: string }
  | { type: GgufValueType.ARRAY; elementType: GgufValueType; values: WValue[] };

export interface WTensor {
  name: string;
  /** GGUF order (fastest first). */
  dims: number[];
  type: number;
  bytes: Uint8Array;
}

class Out {
  chunks: number[] = [];
  u8(v: number) { this.chunks.push(v & 0xff); }
  bytes(b: Uint8Array) { for (const x of b) this.chunks.push(x); }
  put(n: number, f: (dv: DataView) => void) {
    const b = new Uint8Array(n);
    f(new DataView(b.buffer));
    this.bytes(b);
  }
  u32(v: number) { this.put(4, (d) => d.setUint32(0, v, true)); }
  u64(v: number | bigint) { this.put(8, (d) => d.setBigUint64(0, BigInt(v), true)); }
  str(s: string) {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
}

function writeValue(o: Out, v: WValue): void {
  switch (v.type) {
    case GgufValueType.UINT8: return o.u8(v.value);
    case GgufValueType.INT8: return o.put(1, (d) => d.setInt8(0, v.value));
    case GgufValueType.UINT16: return o.put(2, (d) => d.setUint16(0, v.value, true));
    case GgufValueType.INT16: return o.put(2, (d) => d.setInt16(0, v.value, true));
    case GgufValueType.UINT32: return o.u32(v.value);
    case GgufValueType.INT32: return o.put(4, (d) => d.setInt32(0, v.value, true));
    case GgufValueType.FLOAT32: return o.put(4, (d) => d.setFloat32(0, v.value, true));
    case GgufValueType.FLOAT64: return o.put(8, (d) => d.setFloat64(0, v.value, true));
    case GgufValueType.UINT64: return o.u64(v.value);
    case GgufValueType.INT64: return o.put(8, (d) => d.setBigInt64(0, v.value, true));
    case GgufValueType.BOOL: return o.u8(v.value ? 1 : 0);
    case GgufValueType.STRING: return o.str(v.value);
    case GgufValueType.ARRAY:
      o.u32(v.elementType);
      o.u64(v.values.length);
      for (const e of v.values) writeValue(o, e);
  }
}

export function writeGgufBytes(opts: { version?: number; alignment?: number; metadata: [string, WValue][]; tensors: WTensor[] }): Uint8Array {
  const o = new Out();
  const align = opts.alignment ?? 32;
  o.bytes(new TextEncoder().encode('GGUF'));
  o.u32(opts.version ?? 3);
  o.u64(opts.tensors.length);
  o.u64(opts.metadata.length);
  for (const [k, v] of opts.metadata) {
    o.str(k);
    o.u32(v.type);
    writeValue(o, v);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of opts.tensors) {
    offsets.push(offset);
    offset = Math.ceil((offset + t.bytes.length) / align) * align;
  }
  opts.tensors.forEach((t, i) => {
    o.str(t.name);
    o.u32(t.dims.length);
    for (const d of t.dims) o.u64(d);
    o.u32(t.type);
    o.u64(offsets[i]!);
  });
  while (o.chunks.length % align !== 0) o.u8(0);
  const base = o.chunks.length;
  opts.tensors.forEach((t, i) => {
    while (o.chunks.length < base + offsets[i]!) o.u8(0);
    o.bytes(t.bytes);
  });
  return Uint8Array.from(o.chunks);
}

export const V = {
  u32: (value: number): WValue => ({ type: GgufValueType.UINT32, value }),
  i32: (value: number): WValue => ({ type: GgufValueType.INT32, value }),
  f32: (value: number): WValue => ({ type: GgufValueType.FLOAT32, value }),
  str: (value: string): WValue => ({ type: GgufValueType.STRING, value }),
  bool: (value: boolean): WValue => ({ type: GgufValueType.BOOL, value }),
  arr: (elementType: GgufValueType, values: WValue[]): WValue => ({ type: GgufValueType.ARRAY, elementType, values }),
};

export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

export function u16Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Uint16Array.from(values).buffer);
}
