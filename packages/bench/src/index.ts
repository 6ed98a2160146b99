export * from './crispr/index.js';
export * from './results/index.js';
