/**
 * The files crispr-bench publishes, as schemas: a run's results.json (`crispr run`) and a sweep's
 * results folder (`crispr sweep`). Writers (packages/bench) and readers (apps/report, the gate)
 * share these and nothing else.
 */
export * from './run-results.js';
export * from './sweep.js';
export * from './read.js';
