/**
 * Strength reduction of Pow for onnxruntime's CPU kernels: a constant exponent of 1, 2, 3, 0.5 or
 * -1 becomes Identity, x*x, x*x*x, Sqrt or Reciprocal. ORT's Pow calls the general power function
 * per element, several times slower than a multiply, and it leaves them in place in graphs where the
 * RMSNorm square and the GELU cube feed a backward pass (so its fusions do not apply), and the
 * Pow rule's own derivative n * x^(n-1) adds one more per Pow. Results agree with Pow to within
 * an ulp or two (x*x is exact; x*x*x rounds twice).
 */
import type { Graph, Node, Tensor } from './types.js';
import { constantNodeValue } from './evaluate.js';

/** The single value of a constant exponent tensor (every element equal), or undefined. */
function uniformValue(t: Tensor | undefined): number | undefined {
  if (!t || !['float32', 'float64', 'int64', 'int32'].includes(t.dtype)) return undefined;
  const data = Array.from(t.data as ArrayLike<number | bigint>, Number);
  if (!data.length || data.some((v) => v !== data[0])) return undefined;
  return data[0];
}

const REPLACEMENT: Record<number, { opType: string; square?: boolean }> = {
  1: { opType: 'Identity' },
  2: { opType: 'Mul' },
  3: { opType: 'Mul', square: true },
  0.5: { opType: 'Sqrt' },
  [-1]: { opType: 'Reciprocal' },
};

/** Rewrites the Pow nodes of `g` (top level) in place; returns how many were replaced. */
export function reducePowers(g: Graph): number {
  const constants = new Map<string, Tensor>(g.initializers);
  for (const n of g.nodes) {
    const v = n.opType === 'Constant' ? constantNodeValue(n) : undefined;
    if (v) constants.set(n.outputs[0]!, v);
  }
  const nodes: Node[] = [];
  let replaced = 0;
  for (const n of g.nodes) {
    const exponent = n.opType === 'Pow' && n.domain === '' ? uniformValue(constants.get(n.inputs[1]!)) : undefined;
    const rule = exponent === undefined ? undefined : REPLACEMENT[exponent];
    if (!rule) {
      nodes.push(n);
      continue;
    }
    const x = n.inputs[0]!;
    let inputs = [x];
    if (rule.opType === 'Mul') {
      inputs = [x, x];
      if (rule.square) {
        const sq = `${n.outputs[0]}/square`;
        nodes.push({ name: `${n.name || n.outputs[0]}/square`, opType: 'Mul', domain: '', inputs: [x, x], outputs: [sq], attributes: {} });
        inputs = [sq, x];
      }
    }
    nodes.push({ ...n, opType: rule.opType, inputs, attributes: {} });
    replaced++;
  }
  g.nodes = nodes;
  return replaced;
}
