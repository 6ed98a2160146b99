export * from './rng.js';
export * from './t5-config.js';
export * from './t5-weights.js';
export * from './t5-builder.js';
export * from './t5-tokenizer.js';
export * from './t5-folder.js';
