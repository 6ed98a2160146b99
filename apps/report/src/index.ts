export { renderReport, renderAll, scriptJson, mdText, type Rendered } from './render.js';
export { lineChart, barChart, niceTicks, niceStep } from './charts.js';
export { loadInputs } from './load.js';
export { publishable } from './paths.js';
export { writeReport, csvText, type WrittenReport } from './write.js';
export type { ReportInput, ViewCell } from './model.js';
