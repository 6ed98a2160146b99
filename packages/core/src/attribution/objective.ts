/**
 * The teacher-forced target log-probability, shared by attribution graphs (its gradient w.r.t.
 * neuron outputs) and training graphs (its gradient w.r.t. weights): one definition, so the model
 * is trained on exactly the quantity that scoring and attribution read.
 */
import type { GraphBuilder } from '../onnx/builder.js';
import { reduceOp, squeeze, unsqueeze } from '../autodiff/emit.js';

export interface TargetLogprob {
  /** [B]: the masked sum of the target tokens' log-probabilities. */
  logprob: string;
  /** [B, T, V]: log softmax of the logits. */
  logSoftmax: string;
  /** [B, T]: each target token's log-probability (before the mask). */
  picked: string;
  /** [B, T, 1] int64: the labels as indices into the vocabulary axis. */
  labelIndex: string;
}

/**
 * Emits log P(target_b) = sum_t labelMask[b, t] * log softmax(logits[b, t])[labels[b, t]] and
 * returns the name of that [B] value. `logits` is [B, T, V]; `labels` int64 and `labelMask`
 * float32 are [B, T].
 */
export function targetLogprob(b: GraphBuilder, logits: string, labels: string, labelMask: string, opset: number, output?: string): string {
  return targetLogprobParts(b, logits, labels, labelMask, opset, output).logprob;
}

/** targetLogprob with its intermediate values named (see logitsGradient). */
export function targetLogprobParts(b: GraphBuilder, logits: string, labels: string, labelMask: string, opset: number, output?: string): TargetLogprob {
  const logSoftmax = b.op('LogSoftmax', [logits], { axis: -1 });
  const labelIndex = unsqueeze(b, labels, [2], opset);
  const picked = squeeze(b, b.op('GatherElements', [logSoftmax, labelIndex], { axis: 2 }), [2], opset);
  const tokenLogp = b.op('Mul', [picked, labelMask]);
  const logprob = reduceOp(b, 'ReduceSum', tokenLogp, [1], false, opset, output);
  return { logprob, logSoftmax, picked, labelIndex };
}

/**
 * d(sum_b c_b * logprob_b) / d logits in closed form, [B, T, V]:
 *   w[b, t] * (onehot(labels[b, t]) - softmax(logits[b, t])),   w = labelMask * c (c: `scale` [B] or 1).
 * Differentiating the LogSoftmax-GatherElements chain instead costs a zero-filled scatter, a
 * reduction and three more passes over the vocabulary-wide tensor; this is one Exp, one Mul and
 * one scatter of a value per target token. Opset 11 and up, as targetLogprob's GatherElements.
 */
export function logitsGradient(b: GraphBuilder, lp: TargetLogprob, labelMask: string, opset: number, scale?: string): string {
  const w = scale ? b.op('Mul', [labelMask, unsqueeze(b, scale, [1], opset)]) : labelMask;
  const rest = b.op('Mul', [b.op('Exp', [lp.logSoftmax]), unsqueeze(b, b.op('Neg', [w]), [2], opset)]);
  // At the label the gradient is w * (1 - p): one value per target token, scattered over `rest`.
  const atLabel = b.op('Mul', [w, b.op('Sub', [b.scalar(1), b.op('Exp', [lp.picked])])]);
  return b.op('ScatterElements', [rest, lp.labelIndex, unsqueeze(b, atLabel, [2], opset)], { axis: 2 });
}
