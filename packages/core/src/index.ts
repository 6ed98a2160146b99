export * from './types/items.js';
export * from './types/cli.js';
