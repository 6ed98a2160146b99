export * from './sites.js';
export * from './masks.js';
export * from './folder.js';
export * from './scoring.js';
export * from './prune.js';
export * from './commands.js';
export * from './finite-weights.js';
export * from './generate.js';
