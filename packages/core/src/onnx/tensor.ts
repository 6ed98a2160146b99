/** Tensor construction and dtype facts shared by IO, folding, autodiff and sessions. */
import type { DType, Tensor, TensorArray } from './types.js';

export const FLOAT_DTYPES: ReadonlySet<DType> = new Set(['float32', 'float64', 'float16', 'bfloat16']);

export function isFloat(dtype: DType): boolean {
  return FLOAT_DTYPES.has(dtype);
}

export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case 'float64':
    case 'int64':
    case 'uint64':
      return 8;
    case 'float32':
    case 'int32':
    case 'uint32':
      return 4;
    case 'float16':
    case 'bfloat16':
    case 'int16':
    case 'uint16':
      return 2;
    case 'int8':
    case 'uint8':
    case 'bool':
      return 1;
    case 'string':
      throw new Error('string tensors have no fixed element size');
  }
}

export function numel(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function allocate(dtype: DType, n: number): TensorArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'float16':
    case 'bfloat16':
    case 'uint16':
      return new Uint16Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'uint64':
      return new BigUint64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'uint32':
      return new Uint32Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(n);
    case 'string':
      return new Array<string>(n).fill('');
  }
}

/** Copies `bytes` (which may be a view into a larger buffer) into a fresh typed array. */
export function fromBytes(dtype: DType, bytes: Uint8Array, n: number): TensorArray {
  const size = bytesPerElement(dtype);
  if (bytes.byteLength !== n * size) {
    throw new Error(`raw data holds ${bytes.byteLength} bytes, expected ${n * size} for ${n} x ${dtype}`);
  }
  const out = allocate(dtype, n) as Exclude<TensorArray, string[]>;
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
  return out;
}

export function toBytes(data: TensorArray): Uint8Array {
  if (Array.isArray(data)) throw new Error('string tensors have no raw bytes');
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function tensor(dtype: DType, dims: number[], values?: ArrayLike<number> | ArrayLike<bigint> | TensorArray): Tensor {
  const n = numel(dims);
  if (values === undefined) return { dtype, dims: [...dims], data: allocate(dtype, n) };
  if (values.length !== n) throw new Error(`tensor of shape [${dims}] needs ${n} values, got ${values.length}`);
  const data = allocate(dtype, n);
  if (dtype === 'int64' || dtype === 'uint64') {
    const d = data as BigInt64Array | BigUint64Array;
    for (let i = 0; i < n; i++) d[i] = BigInt((values as ArrayLike<number | bigint>)[i] as number | bigint);
  } else if (dtype === 'string') {
    for (let i = 0; i < n; i++) (data as string[])[i] = String((values as ArrayLike<unknown>)[i]);
  } else {
    const d = data as Float32Array;
    for (let i = 0; i < n; i++) d[i] = Number((values as ArrayLike<number | bigint>)[i]);
  }
  return { dtype, dims: [...dims], data };
}

export const f32 = (dims: number[], values?: ArrayLike<number>): Tensor => tensor('float32', dims, values);
export const f64 = (dims: number[], values?: ArrayLike<number>): Tensor => tensor('float64', dims, values);
export const i64 = (dims: number[], values?: ArrayLike<number> | ArrayLike<bigint>): Tensor => tensor('int64', dims, values);

export function scalarTensor(value: number, dtype: DType = 'float32'): Tensor {
  return tensor(dtype, [], [value]);
}

/** Reads element i of any numeric tensor as a JS number (int64 via Number()). */
export function elementAsNumber(t: Tensor, i: number): number {
  const v = (t.data as ArrayLike<number | bigint>)[i];
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

export function toNumbers(t: Tensor): number[] {
  const out = new Array<number>(numel(t.dims));
  for (let i = 0; i < out.length; i++) out[i] = elementAsNumber(t, i);
  return out;
}

export function cloneTensor(t: Tensor): Tensor {
  const data = Array.isArray(t.data) ? [...t.data] : (t.data.slice() as TensorArray);
  return { dtype: t.dtype, dims: [...t.dims], data };
}

/** float16 bit pattern to number (for reading half-precision weights). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** float -> IEEE half bits, rounding to nearest even (overflow to infinity, NaN kept). */
export function floatToHalfBits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / NaN
  // Unbiased exponent; half normals cover -14..15.
  const e = exp - 127;
  if (e > 15) return sign | 0x7c00;
  if (e >= -14) {
    // Normal half: 10 mantissa bits, round the dropped 13 to nearest even.
    let h = ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent (correct)
    return sign | h;
  }
  if (e < -25) return sign; // below half the smallest subnormal: zero
  // Subnormal half: value = m * 2^-24 with m < 1024.
  mant |= 0x800000; // implicit leading one
  // The value is mant * 2^(e-23); in units of 2^-24 that is mant * 2^(e+1), i.e. mant >> (-e-1).
  const shift = -e - 1;
  let h = mant >>> shift;
  const rest = mant & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  if (rest > halfway || (rest === halfway && h & 1)) h++;
  return sign | h;
}
