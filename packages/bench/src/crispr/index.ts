export * from './aggregate.js';
export * from './ranking.js';
export * from './k-search.js';
