export * from './crispr/index.js';
export * from './results/index.js';
export * from './default-model/index.js';
