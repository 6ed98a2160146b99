export { compareFolders, compareLoaded, metricStat, itemOf, worsening, GATE_METRICS, type GateRow, type GateResult } from './compare.js';
export { gateMarkdown, gateTable } from './format.js';
export { parseRules, loadRules, DEFAULT_RULES, gateRulesSchema, type GateRules } from './rules.js';
export { IncomparableError } from './errors.js';
export { readGateFolder } from './folder.js';
