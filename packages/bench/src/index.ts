export * from './crispr/index.js';
export * from './default-model/index.js';
export * from './sweep/shard.js';
