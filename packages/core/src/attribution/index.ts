export * from './types.js';
export * from './graph.js';
export * from './run.js';
export * from './folder.js';
export * from './top.js';
export * from './choice-graph.js';
