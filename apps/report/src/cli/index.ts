/** `@crispr-bench/report/cli`: the `crispr report` command. */
export { reportCommand } from './report.js';
