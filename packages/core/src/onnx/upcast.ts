/**
 * Half-precision graphs computed in float32. transformers.js ships `*_fp16.onnx` variants; our
 * gradient rules and ORT's CPU kernels are float32 (many have no float16 kernel), so a half graph
 * is rewritten to float32 throughout: weights widened exactly, casts to half redirected to float,
 * half-typed graph inputs, outputs and annotations retyped. Every float16 value is exactly
 * representable in float32, so the rewritten graph computes what the half graph means, without
 * the half graph's intermediate rounding.
 */
import type { Attribute, Graph, Model, Tensor, ValueInfo } from './types.js';
import { halfToFloat } from './tensor.js';

const HALF = new Set(['float16', 'bfloat16']);
/** ONNX TensorProto.DataType codes. */
const FLOAT = 1;
const HALF_CODES = new Set([10, 16]);

function widen(t: Tensor): Tensor {
  if (!HALF.has(t.dtype)) return t;
  const bits = t.data as Uint16Array;
  const out = new Float32Array(bits.length);
  if (t.dtype === 'float16') for (let i = 0; i < bits.length; i++) out[i] = halfToFloat(bits[i]!);
  else {
    // bfloat16 is the top half of a float32.
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < bits.length; i++) u[i] = bits[i]! << 16;
  }
  return { dtype: 'float32', dims: [...t.dims], data: out };
}

function retype(v: ValueInfo): ValueInfo {
  return HALF.has(v.dtype) ? { ...v, dtype: 'float32' } : v;
}

function upcastGraph(g: Graph, count: { n: number }): Graph {
  const initializers = new Map<string, Tensor>();
  for (const [k, t] of g.initializers) {
    if (HALF.has(t.dtype)) count.n++;
    initializers.set(k, widen(t));
  }
  const nodes = g.nodes.map((n) => {
    const attributes: Record<string, Attribute> = {};
    for (const [k, a] of Object.entries(n.attributes)) {
      if (a.type === 'tensor' && HALF.has(a.value.dtype)) {
        count.n++;
        attributes[k] = { type: 'tensor', value: widen(a.value) };
      } else if (a.type === 'int' && (k === 'to' || k === 'dtype') && HALF_CODES.has(a.value)) {
        count.n++;
        attributes[k] = { type: 'int', value: FLOAT };
      } else if (a.type === 'graph') attributes[k] = { type: 'graph', value: upcastGraph(a.value, count) };
      else if (a.type === 'graphs') attributes[k] = { type: 'graphs', value: a.value.map((s) => upcastGraph(s, count)) };
      else attributes[k] = a;
    }
    return { ...n, attributes };
  });
  const inputs = g.inputs.map(retype);
  const outputs = g.outputs.map(retype);
  count.n += [...g.inputs, ...g.outputs].filter((v) => HALF.has(v.dtype)).length;
  return { ...g, nodes, initializers, inputs, outputs, valueInfo: g.valueInfo.map(retype) };
}

/** The model with every half-precision tensor, cast and type widened to float32; `changed` counts the rewrites (0: nothing was half). */
export function upcastHalf(model: Model): { model: Model; changed: number } {
  const count = { n: 0 };
  const graph = upcastGraph(model.graph, count);
  return { model: { ...model, graph }, changed: count.n };
}
