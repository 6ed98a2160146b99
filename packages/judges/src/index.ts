/** @crispr-bench/judges: model outputs -> decisions -> metrics (DESIGN.md §5, §6). */
export * from './prng.js';
export * from './option-judge.js';
export * from './generation-judge.js';
export * from './biased-label.js';
export * from './bbq-metrics.js';
export * from './instructions.js';
export * from './pronoun-metrics.js';
export * from './bootstrap.js';
export * from './intervals.js';
export * from './calibration.js';
export * from './predictions.js';
