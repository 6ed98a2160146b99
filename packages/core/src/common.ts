/**
 * The part of core that has no ONNX, no onnxruntime and no models: item types, the CLI plumbing
 * every package's subcommands share, seeded random numbers. datasets and judges import values
 * from here only (`@crispr-bench/core/common`), so loading them never loads the native runtime;
 * pnpm deps:check enforces it.
 */
export * from './types/items.js';
export * from './types/cli.js';
export * from './types/cli-options.js';
export * from './types/cli-table.js';
export * from './util/random.js';
export * from './util/json-files.js';
