/**
 * `@crispr-bench/core/cli`: core's `crispr` commands and the helpers every package's commands
 * share (argument parsing, option checks, tables). Kept out of the main barrel: library users
 * do not load the commands.
 */
export * from '../types/cli.js';
export * from '../types/cli-options.js';
export * from '../types/cli-table.js';
export { explainCommand } from './explain.js';
export { importCommand, importGgufCommand } from './import-gguf.js';
export { sitesCommand, formatSitesTable } from './sites.js';
export { inspectCommand, formatInspect } from './inspect.js';
export { pruneCommand } from './prune.js';
