/** Registers the math gradient rules (elementwise arithmetic, activations, products, norms). */
import { registerRule } from '../rule.js';
import { addRule, divRule, meanRule, mulRule, negRule, subRule, sumRule } from './arithmetic.js';
import { cosRule, erfRule, expRule, logRule, reciprocalRule, sigmoidRule, sinRule, sqrtRule, tanhRule } from './unary.js';
import { geluRule, leakyReluRule, msBiasGeluRule, msFastGeluRule, msGeluRule, msQuickGeluRule, reluRule } from './activation.js';
import { powRule } from './pow.js';
import { logSoftmaxRule, softmaxRule } from './softmax.js';
import { layerNormRule, rmsNormRule, skipLayerNormRule, skipSimplifiedLayerNormRule } from './layernorm.js';
import { matmulRule } from './matmul.js';
import { gemmRule } from './gemm.js';
import { einsumRule } from './einsum.js';
import {
  acoshRule, acosRule, asinhRule, asinRule, atanhRule, atanRule, celuRule, coshRule, eluRule, hardSigmoidRule, hardSwishRule, mishRule,
  preluRule, seluRule, sinhRule, softplusRule, softsignRule, tanRule, thresholdedReluRule,
} from './activation-extra.js';

registerRule('Add', addRule);
registerRule('Sub', subRule);
registerRule('Mul', mulRule);
registerRule('Div', divRule);
registerRule('Neg', negRule);
registerRule('Sum', sumRule);
registerRule('Mean', meanRule);
registerRule('Pow', powRule);
registerRule('Sqrt', sqrtRule);
registerRule('Reciprocal', reciprocalRule);
registerRule('Exp', expRule);
registerRule('Log', logRule);
registerRule('Tanh', tanhRule);
registerRule('Erf', erfRule);
registerRule('Sigmoid', sigmoidRule);
registerRule('Sin', sinRule);
registerRule('Cos', cosRule);
registerRule('Relu', reluRule);
registerRule('LeakyRelu', leakyReluRule);
registerRule('Gelu', geluRule);
registerRule('com.microsoft:Gelu', msGeluRule);
registerRule('com.microsoft:BiasGelu', msBiasGeluRule);
registerRule('com.microsoft:FastGelu', msFastGeluRule);
registerRule('com.microsoft:QuickGelu', msQuickGeluRule);
registerRule('Softmax', softmaxRule);
registerRule('LogSoftmax', logSoftmaxRule);
registerRule('LayerNormalization', layerNormRule);
registerRule('RMSNormalization', rmsNormRule);
registerRule('SimplifiedLayerNormalization', rmsNormRule);
registerRule('com.microsoft:SkipLayerNormalization', skipLayerNormRule);
registerRule('com.microsoft:SkipSimplifiedLayerNormalization', skipSimplifiedLayerNormRule);
registerRule('Softplus', softplusRule);
registerRule('Softsign', softsignRule);
registerRule('Elu', eluRule);
registerRule('Selu', seluRule);
registerRule('Celu', celuRule);
registerRule('HardSigmoid', hardSigmoidRule);
registerRule('HardSwish', hardSwishRule);
registerRule('Mish', mishRule);
registerRule('ThresholdedRelu', thresholdedReluRule);
registerRule('PRelu', preluRule);
registerRule('Sinh', sinhRule);
registerRule('Cosh', coshRule);
registerRule('Tan', tanRule);
registerRule('Atan', atanRule);
registerRule('Asin', asinRule);
registerRule('Acos', acosRule);
registerRule('Asinh', asinhRule);
registerRule('Acosh', acoshRule);
registerRule('Atanh', atanhRule);
registerRule('MatMul', matmulRule);
registerRule('Gemm', gemmRule);
registerRule('Einsum', einsumRule);

/** The op types registered by this module (for tests and reports). */
export const MATH_OPS = [
  'Add', 'Sub', 'Mul', 'Div', 'Neg', 'Sum', 'Mean', 'Pow', 'Sqrt', 'Reciprocal', 'Exp', 'Log', 'Tanh', 'Erf', 'Sigmoid', 'Sin', 'Cos',
  'Relu', 'LeakyRelu', 'Gelu', 'Softplus', 'Softsign', 'Elu', 'Selu', 'Celu', 'HardSigmoid', 'HardSwish', 'Mish', 'ThresholdedRelu',
  'PRelu', 'Sinh', 'Cosh', 'Tan', 'Atan', 'Asin', 'Acos', 'Asinh', 'Acosh', 'Atanh', 'Softmax', 'LogSoftmax', 'LayerNormalization', 'RMSNormalization', 'SimplifiedLayerNormalization', 'MatMul', 'Gemm', 'Einsum',
  'com.microsoft:Gelu', 'com.microsoft:BiasGelu', 'com.microsoft:FastGelu', 'com.microsoft:QuickGelu',
  'com.microsoft:SkipLayerNormalization', 'com.microsoft:SkipSimplifiedLayerNormalization',
] as const;
