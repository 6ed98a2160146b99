export * from './session.js';
export * from './shape-probe.js';
