/**
 * Reading and writing ONNX files. Initializers may live inline (raw_data or typed fields) or in
 * external data files next to the model (required past protobuf's 2 GB limit).
 */
import { mkdirSync, readFileSync, writeFileSync, openSync, readSync, closeSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { Attribute, DType, Dim, Graph, Model, Node, Tensor, TensorArray, ValueInfo } from './types.js';
import { allocate, bytesPerElement, fromBytes, numel, toBytes } from './tensor.js';
import { dtypeCode, dtypeFromCode } from './dtype.js';

const { onnx } = onnxProto as unknown as { onnx: any };

/** protobufjs returns int64 fields as Long objects; the IR uses numbers. */
function num(x: unknown): number {
  if (x === null || x === undefined) return 0;
  if (typeof x === 'number') return x;
  if (typeof x === 'bigint') return Number(x);
  if (typeof (x as { toNumber?: () => number }).toNumber === 'function') return (x as { toNumber: () => number }).toNumber();
  return Number(x);
}

export interface ReadOptions {
  /** Folder that external-data locations are relative to (defaults to the model's folder). */
  baseDir?: string;
  /** Where the model came from, for error messages. */
  source?: string;
}

export function decodeModel(bytes: Uint8Array, opts: ReadOptions = {}): Model {
  const source = opts.source ?? '<buffer>';
  let proto: any;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`${source}: not a valid ONNX model (${(e as Error).message})`);
  }
  if (!proto.graph) throw new Error(`${source}: ONNX model has no graph`);
  const ctx: DecodeCtx = { baseDir: opts.baseDir ?? '.', source, files: new Map() };
  try {
    const metadata: Record<string, string> = {};
    for (const p of proto.metadataProps ?? []) metadata[p.key] = p.value;
    return {
      irVersion: num(proto.irVersion),
      opsetImports: (proto.opsetImport ?? []).map((o: any) => ({ domain: o.domain ?? '', version: num(o.version) })),
      producerName: proto.producerName ?? '',
      producerVersion: proto.producerVersion ?? '',
      graph: decodeGraph(proto.graph, ctx),
      metadata,
    };
  } finally {
    for (const fd of ctx.files.values()) closeSync(fd);
  }
}

export function readModel(path: string): Model {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ONNX model ${path}: ${(e as Error).message}`);
  }
  return decodeModel(bytes, { baseDir: dirname(path), source: path });
}

interface DecodeCtx {
  baseDir: string;
  source: string;
  files: Map<string, number>;
}

function decodeGraph(g: any, ctx: DecodeCtx): Graph {
  const initializers = new Map<string, Tensor>();
  for (const t of g.initializer ?? []) initializers.set(t.name, decodeTensor(t, ctx));
  return {
    name: g.name ?? '',
    nodes: (g.node ?? []).map((n: any) => decodeNode(n, ctx)),
    inputs: (g.input ?? []).map(decodeValueInfo),
    outputs: (g.output ?? []).map(decodeValueInfo),
    initializers,
    valueInfo: (g.valueInfo ?? []).map(decodeValueInfo),
  };
}

function decodeValueInfo(v: any): ValueInfo {
  const tt = v.type?.tensorType;
  if (!tt) return { name: v.name, dtype: 'float32', shape: null };
  const shape: Dim[] | null = tt.shape
    ? (tt.shape.dim ?? []).map((d: any) =>
        d.dimParam
          ? d.dimParam
          : d.dimValue != null && num(d.dimValue) > 0
            ? num(d.dimValue)
            : d.dimValue != null && num(d.dimValue) === 0 && !d.dimParam
              ? 0
              : null,
      )
    : null;
  return { name: v.name, dtype: tt.elemType ? dtypeFromCode(tt.elemType, v.name) : 'float32', shape };
}

function decodeNode(n: any, ctx: DecodeCtx): Node {
  const attributes: Record<string, Attribute> = {};
  for (const a of n.attribute ?? []) attributes[a.name] = decodeAttribute(a, ctx, n.name);
  return {
    name: n.name ?? '',
    opType: n.opType,
    domain: n.domain ?? '',
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attributes,
    ...(n.docString ? { docString: n.docString } : {}),
  };
}

function decodeAttribute(a: any, ctx: DecodeCtx, nodeName: string): Attribute {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.FLOAT:
      return { type: 'float', value: a.f ?? 0 };
    case T.INT:
      return { type: 'int', value: num(a.i) };
    case T.STRING:
      return { type: 'string', value: Buffer.from(a.s ?? []).toString('utf8') };
    case T.FLOATS:
      return { type: 'floats', value: [...(a.floats ?? [])] };
    case T.INTS:
      return { type: 'ints', value: (a.ints ?? []).map(num) };
    case T.STRINGS:
      return { type: 'strings', value: (a.strings ?? []).map((s: Uint8Array) => Buffer.from(s).toString('utf8')) };
    case T.TENSOR:
      return { type: 'tensor', value: decodeTensor(a.t, ctx) };
    case T.GRAPH:
      return { type: 'graph', value: decodeGraph(a.g, ctx) };
    case T.GRAPHS:
      return { type: 'graphs', value: (a.graphs ?? []).map((g: any) => decodeGraph(g, ctx)) };
    default:
      throw new Error(`${ctx.source}: node '${nodeName}': attribute '${a.name}' has unsupported type ${a.type}`);
  }
}

function decodeTensor(t: any, ctx: DecodeCtx): Tensor {
  const dtype = dtypeFromCode(t.dataType, `initializer '${t.name}'`);
  const dims = (t.dims ?? []).map(num);
  const n = numel(dims);
  if (t.dataLocation === 1) return { dtype, dims, data: readExternal(t, dtype, n, ctx) };
  if (t.rawData && t.rawData.length > 0) {
    // rawData is a view into the decoded buffer: fromBytes copies it out.
    return { dtype, dims, data: fromBytes(dtype, t.rawData, n) };
  }
  const data = allocate(dtype, n);
  const fill = (src: ArrayLike<unknown> | undefined, conv: (x: unknown) => number | bigint | string) => {
    if (!src || src.length === 0) {
      if (n !== 0) throw new Error(`${ctx.source}: tensor '${t.name}' [${dims}] has no data`);
      return;
    }
    if (src.length !== n) throw new Error(`${ctx.source}: tensor '${t.name}' has ${src.length} values, shape [${dims}] needs ${n}`);
    for (let i = 0; i < n; i++) (data as unknown as (number | bigint | string)[])[i] = conv(src[i]);
  };
  switch (dtype) {
    case 'float32':
      fill(t.floatData, (x) => x as number);
      break;
    case 'float64':
      fill(t.doubleData, (x) => x as number);
      break;
    case 'int64':
      fill(t.int64Data, (x) => BigInt(num(x)));
      break;
    case 'uint64':
      fill(t.uint64Data, (x) => BigInt(num(x)));
      break;
    case 'uint32':
      fill(t.uint64Data, (x) => num(x));
      break;
    case 'string':
      fill(t.stringData, (x) => Buffer.from(x as Uint8Array).toString('utf8'));
      break;
    default:
      // int32, int16, int8, uint8, uint16, bool, float16 and bfloat16 all travel in int32_data.
      fill(t.int32Data, (x) => x as number);
  }
  return { dtype, dims, data };
}

function readExternal(t: any, dtype: DType, n: number, ctx: DecodeCtx): TensorArray {
  const kv: Record<string, string> = {};
  for (const e of t.externalData ?? []) kv[e.key] = e.value;
  if (!kv.location) throw new Error(`${ctx.source}: tensor '${t.name}' is external but names no location`);
  const file = join(ctx.baseDir, kv.location);
  const offset = kv.offset ? Number(kv.offset) : 0;
  const length = kv.length ? Number(kv.length) : n * bytesPerElement(dtype);
  let fd = ctx.files.get(file);
  if (fd === undefined) {
    try {
      fd = openSync(file, 'r');
    } catch (e) {
      throw new Error(`${ctx.source}: external data file for tensor '${t.name}' is missing: ${file} (${(e as Error).message})`);
    }
    ctx.files.set(file, fd);
  }
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const r = readSync(fd, buf, got, length - got, offset + got);
    if (r === 0) throw new Error(`${ctx.source}: external data file ${file} ends before tensor '${t.name}' (offset ${offset}, length ${length})`);
    got += r;
  }
  return fromBytes(dtype, buf, n);
}

// ---------------------------------------------------------------------------------- writing

export interface WriteOptions {
  /**
   * Store initializers in a separate file next to the model. 'auto' (default) does so when the
   * initializers exceed 1.5 GB, since a single protobuf cannot exceed 2 GB.
   */
  externalData?: boolean | 'auto';
  /** File name of the external data, relative to the model (default `<model>.data`). */
  externalDataName?: string;
  /** Tensors smaller than this stay inline even in external-data mode (default 1024 bytes). */
  externalThreshold?: number;
}

const EXTERNAL_AUTO_BYTES = 1.5 * 1024 ** 3;
const EXTERNAL_ALIGN = 64;

interface EncodeCtx {
  external: null | { chunks: Uint8Array[]; size: number; name: string; threshold: number };
}

export function encodeModel(model: Model): Uint8Array {
  return encodeWith(model, { external: null });
}

function encodeWith(model: Model, ctx: EncodeCtx): Uint8Array {
  const metadataProps = Object.entries(model.metadata).map(([key, value]) => ({ key, value }));
  const proto = {
    irVersion: model.irVersion,
    opsetImport: model.opsetImports.map((o) => ({ domain: o.domain, version: o.version })),
    producerName: model.producerName,
    producerVersion: model.producerVersion,
    graph: encodeGraph(model.graph, ctx),
    metadataProps,
  };
  return onnx.ModelProto.encode(proto).finish();
}

export function initializerBytes(graph: Graph): number {
  let total = 0;
  for (const t of graph.initializers.values()) total += t.dtype === 'string' ? 0 : numel(t.dims) * bytesPerElement(t.dtype);
  return total;
}

export function writeModel(model: Model, path: string, opts: WriteOptions = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  const mode = opts.externalData ?? 'auto';
  const external = mode === true || (mode === 'auto' && initializerBytes(model.graph) > EXTERNAL_AUTO_BYTES);
  if (!external) {
    writeFileSync(path, encodeModel(model));
    return;
  }
  const name = opts.externalDataName ?? `${basename(path)}.data`;
  const ctx: EncodeCtx = { external: { chunks: [], size: 0, name, threshold: opts.externalThreshold ?? 1024 } };
  const bytes = encodeWith(model, ctx);
  const fd = openSync(join(dirname(path), name), 'w');
  try {
    for (const c of ctx.external!.chunks) writeSync(fd, c);
  } finally {
    closeSync(fd);
  }
  writeFileSync(path, bytes);
}

function encodeGraph(g: Graph, ctx: EncodeCtx): any {
  return {
    name: g.name,
    node: g.nodes.map((n) => encodeNode(n, ctx)),
    input: g.inputs.map(encodeValueInfo),
    output: g.outputs.map(encodeValueInfo),
    initializer: [...g.initializers.entries()].map(([name, t]) => encodeTensor(name, t, ctx)),
    valueInfo: g.valueInfo.map(encodeValueInfo),
  };
}

function encodeValueInfo(v: ValueInfo): any {
  if (v.untyped) return { name: v.name };
  const tensorType: any = { elemType: dtypeCode(v.dtype) };
  if (v.shape) {
    tensorType.shape = {
      dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})),
    };
  }
  return { name: v.name, type: { tensorType } };
}

function encodeNode(n: Node, ctx: EncodeCtx): any {
  return {
    name: n.name,
    opType: n.opType,
    domain: n.domain,
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attributes).map(([name, a]) => encodeAttribute(name, a, ctx)),
    ...(n.docString ? { docString: n.docString } : {}),
  };
}

function encodeAttribute(name: string, a: Attribute, ctx: EncodeCtx): any {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'string':
      return { name, type: T.STRING, s: Buffer.from(a.value, 'utf8') };
    case 'floats':
      return { name, type: T.FLOATS, floats: a.value };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
    case 'strings':
      return { name, type: T.STRINGS, strings: a.value.map((s) => Buffer.from(s, 'utf8')) };
    case 'tensor':
      return { name, type: T.TENSOR, t: encodeTensor('', a.value, { external: null }) };
    case 'graph':
      return { name, type: T.GRAPH, g: encodeGraph(a.value, ctx) };
    case 'graphs':
      return { name, type: T.GRAPHS, graphs: a.value.map((g) => encodeGraph(g, ctx)) };
  }
}

function encodeTensor(name: string, t: Tensor, ctx: EncodeCtx): any {
  const base = { name, dims: t.dims, dataType: dtypeCode(t.dtype) };
  if (t.dtype === 'string') return { ...base, stringData: (t.data as string[]).map((s) => Buffer.from(s, 'utf8')) };
  const raw = toBytes(t.data);
  const ext = ctx.external;
  if (ext && raw.byteLength >= ext.threshold) {
    const pad = (EXTERNAL_ALIGN - (ext.size % EXTERNAL_ALIGN)) % EXTERNAL_ALIGN;
    if (pad) ext.chunks.push(new Uint8Array(pad));
    const offset = ext.size + pad;
    ext.chunks.push(raw);
    ext.size = offset + raw.byteLength;
    return {
      ...base,
      dataLocation: 1,
      externalData: [
        { key: 'location', value: ext.name },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(raw.byteLength) },
      ],
    };
  }
  return { ...base, rawData: raw };
}
