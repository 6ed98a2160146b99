/**
 * Every gradient rule, by op type: the one place a rule is registered. A rule module exports its
 * rules; adding one here makes the engine use it, and test/autodiff/rule-coverage.test.ts then
 * requires a finite-difference check of it. Keys are default-domain op types or `domain:opType`.
 */
import type { RuleTable } from '../rule.js';
import { addRule, divRule, meanRule, mulRule, negRule, subRule, sumRule } from './arithmetic.js';
import { powRule } from './pow.js';
import { cosRule, erfRule, expRule, logRule, reciprocalRule, sigmoidRule, sinRule, sqrtRule, tanhRule } from './unary.js';
import { geluRule, leakyReluRule, msBiasGeluRule, msFastGeluRule, msGeluRule, msQuickGeluRule, reluRule } from './activation.js';
import { logSoftmaxRule, softmaxRule } from './softmax.js';
import { layerNormRule, rmsNormRule, skipLayerNormRule, skipSimplifiedLayerNormRule } from './layernorm.js';
import {
  acosRule,
  acoshRule,
  asinRule,
  asinhRule,
  atanRule,
  atanhRule,
  celuRule,
  coshRule,
  eluRule,
  hardSigmoidRule,
  hardSwishRule,
  mishRule,
  preluRule,
  seluRule,
  sinhRule,
  softplusRule,
  softsignRule,
  tanRule,
  thresholdedReluRule,
} from './activation-extra.js';
import { matmulRule } from './matmul.js';
import { gemmRule } from './gemm.js';
import { einsumRule } from './einsum.js';
import { identityRule } from './identity.js';
import { reshapeRule } from './reshape.js';
import { flattenRule } from './flatten.js';
import { squeezeRule } from './squeeze.js';
import { unsqueezeRule } from './unsqueeze.js';
import { transposeRule } from './transpose.js';
import { castLikeRule, castRule } from './cast.js';
import { expandRule } from './expand.js';
import { tileRule } from './tile.js';
import { concatRule } from './concat.js';
import { splitRule } from './split.js';
import { sliceRule } from './slice.js';
import { padRule } from './pad.js';
import { gatherRule } from './gather.js';
import { gatherElementsRule } from './gather-elements.js';
import { gatherNDRule } from './gather-nd.js';
import { whereRule } from './where.js';
import { maxRule } from './max.js';
import { minRule } from './min.js';
import { clipRule } from './clip.js';
import { absRule } from './abs.js';
import { triluRule } from './trilu.js';
import { reduceSumRule } from './reduce-sum.js';
import { reduceMeanRule } from './reduce-mean.js';
import { reduceMaxRule } from './reduce-max.js';
import { reduceMinRule } from './reduce-min.js';
import { reduceL2Rule } from './reduce-l2.js';
import { reduceSumSquareRule } from './reduce-sum-square.js';
import { reduceL1Rule } from './reduce-l1.js';
import { reduceLogSumExpRule } from './reduce-log-sum-exp.js';
import { scatterNDRule } from './scatter-nd.js';
import { scatterElementsRule, scatterRule } from './scatter-elements.js';
import { topKRule } from './topk.js';
import { dropoutRule } from './dropout.js';
import { cumSumRule } from './cumsum.js';

export const RULES: RuleTable = {
  Add: addRule,
  Sub: subRule,
  Mul: mulRule,
  Div: divRule,
  Neg: negRule,
  Sum: sumRule,
  Mean: meanRule,
  Pow: powRule,
  Sqrt: sqrtRule,
  Reciprocal: reciprocalRule,
  Exp: expRule,
  Log: logRule,
  Tanh: tanhRule,
  Erf: erfRule,
  Sigmoid: sigmoidRule,
  Sin: sinRule,
  Cos: cosRule,
  Relu: reluRule,
  LeakyRelu: leakyReluRule,
  Gelu: geluRule,
  'com.microsoft:Gelu': msGeluRule,
  'com.microsoft:BiasGelu': msBiasGeluRule,
  'com.microsoft:FastGelu': msFastGeluRule,
  'com.microsoft:QuickGelu': msQuickGeluRule,
  Softmax: softmaxRule,
  LogSoftmax: logSoftmaxRule,
  LayerNormalization: layerNormRule,
  RMSNormalization: rmsNormRule,
  SimplifiedLayerNormalization: rmsNormRule,
  'com.microsoft:SkipLayerNormalization': skipLayerNormRule,
  'com.microsoft:SkipSimplifiedLayerNormalization': skipSimplifiedLayerNormRule,
  Softplus: softplusRule,
  Softsign: softsignRule,
  Elu: eluRule,
  Selu: seluRule,
  Celu: celuRule,
  HardSigmoid: hardSigmoidRule,
  HardSwish: hardSwishRule,
  Mish: mishRule,
  ThresholdedRelu: thresholdedReluRule,
  PRelu: preluRule,
  Sinh: sinhRule,
  Cosh: coshRule,
  Tan: tanRule,
  Atan: atanRule,
  Asin: asinRule,
  Acos: acosRule,
  Asinh: asinhRule,
  Acosh: acoshRule,
  Atanh: atanhRule,
  MatMul: matmulRule,
  Gemm: gemmRule,
  Einsum: einsumRule,
  Identity: identityRule,
  Reshape: reshapeRule,
  Flatten: flattenRule,
  Squeeze: squeezeRule,
  Unsqueeze: unsqueezeRule,
  Transpose: transposeRule,
  Cast: castRule,
  CastLike: castLikeRule,
  Expand: expandRule,
  Tile: tileRule,
  Concat: concatRule,
  Split: splitRule,
  Slice: sliceRule,
  Pad: padRule,
  Gather: gatherRule,
  GatherElements: gatherElementsRule,
  GatherND: gatherNDRule,
  Where: whereRule,
  Max: maxRule,
  Min: minRule,
  Clip: clipRule,
  Abs: absRule,
  Trilu: triluRule,
  ReduceSum: reduceSumRule,
  ReduceMean: reduceMeanRule,
  ReduceMax: reduceMaxRule,
  ReduceMin: reduceMinRule,
  ReduceL2: reduceL2Rule,
  ReduceSumSquare: reduceSumSquareRule,
  ReduceL1: reduceL1Rule,
  ReduceLogSumExp: reduceLogSumExpRule,
  ScatterND: scatterNDRule,
  ScatterElements: scatterElementsRule,
  Scatter: scatterRule,
  TopK: topKRule,
  Dropout: dropoutRule,
  CumSum: cumSumRule,
};
