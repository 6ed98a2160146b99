/**
 * The typed graph IR. It mirrors ONNX closely enough to round-trip a model, but holds tensors as
 * typed arrays and shapes as plain numbers so that graph passes and autodiff stay simple.
 */

export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'bool'
  | 'string';

export type TensorArray =
  | Float32Array
  | Float64Array
  | Uint16Array // float16 / bfloat16 bit patterns, uint16
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Int8Array
  | Uint8Array // uint8 and bool
  | string[];

/** A dense tensor. `dims` are concrete; `data` is row-major and owns its memory. */
export interface Tensor {
  dtype: DType;
  dims: number[];
  data: TensorArray;
}

/** A dimension: a concrete size, a symbolic name (e.g. "batch_size"), or unknown (null). */
export type Dim = number | string | null;

export interface ValueInfo {
  name: string;
  dtype: DType;
  /** null when the rank itself is unknown. */
  shape: Dim[] | null;
  /** Written without a type (ORT accepts untyped graph outputs; the shape probe uses them). */
  untyped?: boolean;
}

export type Attribute =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'tensor'; value: Tensor }
  | { type: 'graph'; value: Graph }
  | { type: 'graphs'; value: Graph[] };

export interface Node {
  name: string;
  opType: string;
  /** '' for the default ONNX domain. */
  domain: string;
  /** '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
  docString?: string;
}

export interface Graph {
  name: string;
  nodes: Node[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Map<string, Tensor>;
  /** Shape/type annotations of intermediate values, when known. */
  valueInfo: ValueInfo[];
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface Model {
  irVersion: number;
  opsetImports: OpsetImport[];
  producerName: string;
  producerVersion: string;
  graph: Graph;
  metadata: Record<string, string>;
}

export function emptyGraph(name = 'graph'): Graph {
  return { name, nodes: [], inputs: [], outputs: [], initializers: new Map(), valueInfo: [] };
}

export function emptyModel(opset = 17, name = 'graph'): Model {
  return {
    irVersion: 8,
    opsetImports: [{ domain: '', version: opset }],
    producerName: 'crispr-bench',
    producerVersion: '0.1.0',
    graph: emptyGraph(name),
    metadata: {},
  };
}

/** The default-domain opset version of a model (ONNX semantics differ by version). */
export function defaultOpset(model: Model): number {
  const imp = model.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  return imp?.version ?? 1;
}

/** A value's element type and static dims, as one run of the graph showed them. */
export interface ValueMeta {
  dtype: DType;
  dims: number[];
}

export type ShapeMap = Map<string, ValueMeta>;

/**
 * Runs `model` once on `feeds` (zeros of `inputDims` for a missing feed) and reports every value's
 * dtype and dims. Graph passes take it as an argument so that onnx/ needs no runtime: the
 * implementation is runtime's probeShapes.
 */
export type ShapeProbe = (model: Model, feeds: Record<string, Tensor>, inputDims: Record<string, number[]>) => Promise<ShapeMap>;
