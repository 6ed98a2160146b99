/** The gate's markdown: a table of failures (always) and of the rows asked for. */
import type { GateResult, GateRow } from './compare.js';

const f3 = (v: number | null) => (v === null ? '—' : v.toFixed(3));
const signed = (v: number | null) => (v === null ? '—' : (v > 0 ? '+' : '') + v.toFixed(3));
/** Cell text from data: no pipes or line breaks that would break the table, no markup. */
const md = (s: string) => s.replace(/[\\`*_[\]<>|#]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');

function method(r: GateRow): string {
  const v = r.variant && r.variant !== 'default' ? ` ${r.variant}` : '';
  return `${r.method}${v}${r.rankedOn ? ` @${r.rankedOn}` : ''}`;
}

export function gateTable(rows: GateRow[]): string {
  const head = '| status | model | dataset | method | k | instruction | metric | baseline | candidate | worse by [95% CI] | threshold | why |';
  const sep = '| --- | --- | --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | --- |';
  const body = rows.map((r) => {
    const ci = r.lo !== null && r.hi !== null ? ` [${f3(r.lo)}, ${f3(r.hi)}]` : '';
    const status = r.status === 'fail' ? '**FAIL**' : r.status;
    return `| ${status} | ${md(r.model)} | ${md(r.dataset)} | ${md(method(r))} | ${r.k} | ${md(r.instruction === '*' ? 'pooled' : r.instruction)} | ${md(r.metric)} | ${f3(r.baseline)} | ${f3(r.candidate)} | ${signed(r.worse)}${ci} | ${f3(r.threshold)} | ${r.why} |`;
  });
  return [head, sep, ...body].join('\n');
}

export function gateMarkdown(result: GateResult, show: 'all' | 'pooled' | 'failed'): string {
  const lines: string[] = [];
  const verdict = result.failed.length ? `**FAIL**: ${result.failed.length} regression(s)` : '**PASS**: no regression';
  lines.push(`## crispr gate: ${verdict}`, '');
  lines.push(
    `${result.cellsCompared} cell(s) compared, ${result.rows.length} metric checks. A check fails when the metric moves the wrong way by more than its threshold and the paired 95% bootstrap interval of that move excludes 0. "worse by": the wrong-way move (bias scores: growth of the distance from 0; negative = better).`,
    '',
  );
  for (const n of result.notes) lines.push(`- ${md(n)}`);
  if (result.notes.length) lines.push('');
  if (result.failed.length) lines.push('### Failed', '', gateTable(result.failed), '');
  const shown = show === 'failed' ? [] : result.rows.filter((r) => r.status !== 'fail' && (show === 'all' || r.summary));
  if (shown.length)
    lines.push(`### Passed${show === 'pooled' ? ' (the cells for all instructions; --show all lists each instruction)' : ''}`, '', gateTable(shown), '');
  return lines.join('\n');
}
