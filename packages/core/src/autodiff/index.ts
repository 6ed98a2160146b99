/** Reverse-mode autodiff that emits ONNX gradient graphs. */
export { buildGradientGraph, gradientOutputName, type GradientOptions, type GradientGraph } from './engine.js';
export { registerRule, getRule, registeredOps, NON_DIFFERENTIABLE_OPS, type GradContext, type GradRule } from './rule.js';
export { reduceOp, unsqueeze, squeeze, reshape, sumToShape } from './emit.js';
