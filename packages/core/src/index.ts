export * from './types/items.js';
export * from './types/cli.js';
export * from './onnx/index.js';
export * from './runtime/index.js';
export * from './autodiff/index.js';
export * from './gguf/index.js';
