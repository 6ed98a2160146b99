/**
 * Folders that mimic what users download, made from the PyTorch export in the assets
 * (`models/t5-export-tiny`): other layouts, transformers.js variants side by side, a quantised
 * file and a graph whose node names an optimiser stripped. The graph edits are the ones the
 * real tools make (ORT dynamic quantisation, float16 conversion, name stripping).
 */
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cloneModel } from '../../src/onnx/graph.js';
import { GraphBuilder } from '../../src/onnx/builder.js';
import { floatToHalfBits, halfToFloat } from '../../src/onnx/tensor.js';
import type { Attribute, Graph, Model, Tensor, ValueInfo } from '../../src/onnx/types.js';
import { ASSETS } from './helpers.js';

export const T5_EXPORT = join(ASSETS, 'models/t5-export-tiny');

/** The export's non-ONNX files (config, tokenizer, ...) copied into `dir`, with an empty onnx/. */
export function copyExportShell(dir: string): void {
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  for (const f of readdirSync(T5_EXPORT)) {
    const p = join(T5_EXPORT, f);
    if (statSync(p).isFile()) copyFileSync(p, join(dir, f));
  }
}

/**
 * float32 -> float16 bits as float16 converters write weights: values beyond half's range are
 * clipped to the largest finite half (a mask value of -3.4e38 must stay finite, or -inf - -inf
 * makes NaN), the rest rounded to nearest even.
 */
export function floatToHalf(x: number): number {
  return floatToHalfBits(Math.max(-65504, Math.min(65504, x)));
}

function halfTensor(t: Tensor): Tensor {
  if (t.dtype !== 'float32') return t;
  const src = t.data as Float32Array;
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = floatToHalf(src[i]!);
  return { dtype: 'float16', dims: [...t.dims], data: out };
}

function halfGraph(g: Graph): Graph {
  const vi = (v: ValueInfo): ValueInfo => (v.dtype === 'float32' ? { ...v, dtype: 'float16' } : v);
  const initializers = new Map([...g.initializers].map(([k, t]) => [k, halfTensor(t)] as const));
  const nodes = g.nodes.map((n) => {
    const attributes: Record<string, Attribute> = {};
    for (const [k, a] of Object.entries(n.attributes)) {
      if (a.type === 'tensor') attributes[k] = { type: 'tensor', value: halfTensor(a.value) };
      else if (a.type === 'int' && k === 'to' && n.opType === 'Cast' && a.value === 1) attributes[k] = { type: 'int', value: 10 };
      else if (a.type === 'graph') attributes[k] = { type: 'graph', value: halfGraph(a.value) };
      else attributes[k] = a;
    }
    return { ...n, attributes };
  });
  return { ...g, nodes, initializers, inputs: g.inputs.map(vi), outputs: g.outputs.map(vi), valueInfo: g.valueInfo.map(vi) };
}

/**
 * The float32 graph with every float32 tensor (initializers and constants) rounded to float16
 * and back: what the fp16 variant holds, computed in float32.
 */
export function roundWeightsToHalf(model: Model): Model {
  const m = cloneModel(model);
  const round = (t: Tensor): Tensor =>
    t.dtype === 'float32' ? { ...t, data: Float32Array.from(t.data as Float32Array, (x) => halfToFloat(floatToHalf(x))) } : t;
  for (const [k, t] of m.graph.initializers) m.graph.initializers.set(k, round(t));
  for (const n of m.graph.nodes) for (const a of Object.values(n.attributes)) if (a.type === 'tensor') a.value = round(a.value);
  return m;
}

/** The whole graph in float16, as a `*_fp16.onnx` conversion writes it (weights, casts, outputs). */
export function toHalf(model: Model): Model {
  return { ...model, graph: halfGraph(model.graph) };
}

/**
 * ORT-style dynamic quantisation of every MatMul with an initializer weight: the activation goes
 * through DynamicQuantizeLinear, the weight is stored as uint8 with a scale and zero point,
 * MatMulInteger multiplies, and the result is rescaled in float.
 */
export function quantiseLinears(model: Model): Model {
  const m = cloneModel(model);
  const g = m.graph;
  const b = new GraphBuilder(g, 'quant/');
  const nodes = [...g.nodes];
  g.nodes = [];
  for (const n of nodes) {
    const w = n.opType === 'MatMul' ? g.initializers.get(n.inputs[1]!) : undefined;
    if (w?.dims.length !== 2 || w.dtype !== 'float32') {
      g.nodes.push(n);
      continue;
    }
    const data = w.data as Float32Array;
    let lo = 0;
    let hi = 0;
    for (const x of data) {
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
    }
    const scale = (hi - lo) / 255 || 1;
    const zero = Math.round(-lo / scale);
    const q = Uint8Array.from(data, (x) => Math.max(0, Math.min(255, Math.round(x / scale) + zero)));
    const wq = b.initializer(`${n.inputs[1]}_quantized`, { dtype: 'uint8', dims: [...w.dims], data: q });
    const wz = b.initializer(`${n.inputs[1]}_zero_point`, { dtype: 'uint8', dims: [], data: Uint8Array.of(zero) });
    const ws = b.initializer(`${n.inputs[1]}_scale`, { dtype: 'float32', dims: [], data: Float32Array.of(scale) });
    const [xq, xs, xz] = b.node('DynamicQuantizeLinear', [n.inputs[0]!], {}, { outputs: 3, name: `${n.name}_QuantizeLinear` });
    const acc = b.op('MatMulInteger', [xq!, wq, xz!, wz], {}, { name: `${n.name}_quant` });
    const f = b.op('Cast', [acc], { to: 1 });
    b.op('Mul', [f, b.op('Mul', [xs!, ws])], {}, { output: n.outputs[0]!, name: `${n.name}_rescale` });
  }
  return m;
}

/** Every node name emptied, as some optimisers and converters leave them. */
export function stripNodeNames(model: Model): Model {
  const m = cloneModel(model);
  for (const n of m.graph.nodes) n.name = '';
  return m;
}
