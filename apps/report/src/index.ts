export { renderReport, renderAll, scriptJson, mdText, type Rendered } from './render.js';
export { lineChart, barChart, niceTicks, niceStep } from './charts.js';
export { loadInputs, readCells, readManifest } from './load.js';
export { publishable } from './paths.js';
export { reportCommand, writeReport } from './command.js';
export type { ReportInput, ViewCell } from './model.js';
