/** Training seq2seq models on the autodiff core (gradients of the loss w.r.t. every weight). */
export * from './graph.js';
export * from './optim.js';
export * from './trainer.js';
