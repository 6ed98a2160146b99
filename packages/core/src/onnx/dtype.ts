/** ONNX TensorProto element-type codes: shared by the serializer, the folder and gradient rules' Cast nodes. */
import type { DType } from './types.js';

const DTYPE_CODES: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
};
const CODE_DTYPES = new Map<number, DType>(Object.entries(DTYPE_CODES).map(([k, v]) => [v, k as DType]));

export function dtypeFromCode(code: number, where = ''): DType {
  const d = CODE_DTYPES.get(code);
  if (!d) throw new Error(`unsupported ONNX element type ${code}${where ? ` (${where})` : ''}`);
  return d;
}

export function dtypeCode(dtype: DType): number {
  return DTYPE_CODES[dtype];
}
