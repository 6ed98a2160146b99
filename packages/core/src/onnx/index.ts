export * from './types.js';
export * from './tensor.js';
export * from './io.js';
export * from './builder.js';
