/** `@crispr-bench/datasets/cli`: the `crispr data` command. */
export { dataCommand } from './data.js';
