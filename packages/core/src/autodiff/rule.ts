/**
 * The contract of a vector-Jacobian rule. One rule per op type, defined in a module under rules/
 * and listed in rules/index.ts. A rule receives the gradients flowing into a node's outputs and emits, through the
 * builder, the nodes that compute the gradients of the node's inputs. Shapes are static (the graph
 * was specialised to a shape bucket), so rules read dims from `meta` and need no shape ops.
 */
import type { GraphBuilder } from '../onnx/builder.js';
import type { Node, Tensor } from '../onnx/types.js';
import type { ValueMeta } from '../onnx/types.js';

export interface GradContext {
  node: Node;
  /** Emits gradient nodes into the combined forward+backward graph. */
  b: GraphBuilder;
  /** Gradient of the objective w.r.t. each output of `node` (same dtype and dims as that output); undefined when none flows. */
  dy: (string | undefined)[];
  /** Whether each input of `node` needs a gradient (false for integer/shape inputs and values off the path). */
  needs: boolean[];
  /** Static dtype and dims of any forward value. */
  meta(name: string): ValueMeta;
  /** The value of an initializer or folded constant, if known. */
  constant(name: string): Tensor | undefined;
  /** Default-domain opset of the graph, for ops whose signature changed across versions. */
  opset: number;
}

/** Returns one gradient name per input of the node (undefined where no gradient is produced). */
export type GradRule = (ctx: GradContext) => (string | undefined)[];

/** Rules by op type of the default ONNX domain, or `domain:opType` for other domains. */
export type RuleTable = Readonly<Record<string, GradRule>>;

/**
 * Ops whose outputs never carry a gradient (integer, boolean or shape results). Their inputs are
 * not on a differentiable path through them.
 */
export const NON_DIFFERENTIABLE_OPS: ReadonlySet<string> = new Set([
  'Shape',
  'Size',
  'ConstantOfShape',
  'Range',
  'NonZero',
  'ArgMax',
  'ArgMin',
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'Not',
  'And',
  'Or',
  'Xor',
  'IsNaN',
  'IsInf',
  'Floor',
  'Ceil',
  'Round',
  'Sign',
  'Constant',
  'EyeLike',
  'RandomNormal',
  'RandomUniform',
  'RandomNormalLike',
  'RandomUniformLike',
  'Trilu_mask',
]);
