/** Reverse-mode autodiff that emits ONNX gradient graphs. */
export { buildGradientGraph, gradientOutputName, type GradientOptions, type GradientGraph } from './engine.js';
export { NON_DIFFERENTIABLE_OPS, type GradContext, type GradRule, type RuleTable } from './rule.js';
export { getRule, registeredOps } from './registry.js';
export { reduceOp, unsqueeze, squeeze, reshape, sumToShape } from './emit.js';
