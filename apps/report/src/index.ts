export { renderReport, renderReportFile } from './render.js';
export { lineChart, barChart } from './charts.js';
export { reportMain } from './cli.js';
