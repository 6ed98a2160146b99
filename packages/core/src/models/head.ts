/**
 * Target rows before the LM head: scoring and attribution need log-probabilities at a few
 * positions (the answer's tokens), not at every prompt or padding position, and each position
 * costs a vocabulary-wide matrix row, softmax and (in attribution) gradient.
 */
import type { Graph } from '../onnx/types.js';
import type { GraphBuilder } from '../onnx/builder.js';

/**
 * Logits of the rows `index` (int64, any shape [...]) of the flattened [batch * length] positions
 * of `logits` [batch, length, vocab]: [..., vocab]. When `logits` is a MatMul by a weight (the LM
 * head), its input rows are gathered and the head applied to those alone; otherwise the logits
 * rows are gathered. No constant holds a batch or length, so the graph stays shape-generic.
 */
export function gatherTargetLogits(g: Graph, b: GraphBuilder, logits: string, index: string): string {
  const head = g.nodes.find((n) => n.outputs[0] === logits);
  const w = head?.opType === 'MatMul' ? g.initializers.get(head.inputs[1]!) : undefined;
  if (head && w && w.dims.length === 2) {
    const x = b.op('Reshape', [head.inputs[0]!, b.ints([-1, w.dims[0]!])]);
    return b.op('MatMul', [b.op('Gather', [x, index], { axis: 0 }), head.inputs[1]!]);
  }
  return b.op('Gather', [b.op('Flatten', [logits], { axis: 2 }), index], { axis: 0 });
}
