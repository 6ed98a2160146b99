/**
 * The teacher-forced target log-probability, shared by attribution graphs (its gradient w.r.t.
 * neuron outputs) and training graphs (its gradient w.r.t. weights): one definition, so the model
 * is trained on exactly the quantity that scoring and attribution read.
 */
import type { GraphBuilder } from '../onnx/builder.js';
import { squeeze, unsqueeze } from '../autodiff/emit.js';

/**
 * Emits log P(target_b) = sum_t labelMask[b, t] * log softmax(logits[b, t])[labels[b, t]] and
 * returns the name of that [B] value. `logits` is [B, T, V]; `labels` int64 and `labelMask`
 * float32 are [B, T].
 */
export function targetLogprob(b: GraphBuilder, logits: string, labels: string, labelMask: string, opset: number, output?: string): string {
  const logp = b.op('LogSoftmax', [logits], { axis: -1 });
  const picked = squeeze(b, b.op('GatherElements', [logp, unsqueeze(b, labels, [2], opset)], { axis: 2 }), [2], opset);
  const tokenLogp = b.op('Mul', [picked, labelMask]);
  return b.op('ReduceSum', [tokenLogp, b.ints([1])], { keepdims: 0 }, output ? { output } : {});
}
