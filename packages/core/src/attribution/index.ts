export * from './types.js';
export * from './graph.js';
export * from './run.js';
export * from './explain-command.js';
export * from './folder.js';
