/** Shared by the benchmark scripts: machine facts and replacing one section of BENCHMARKS.md. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!.trim();
  } catch {
    /* not Linux */
  }
  return (cpus()[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim();
}

export function ortVersion(): string {
  const require = createRequire(join(ROOT, 'packages/core/package.json'));
  return (require('onnxruntime-node/package.json') as { version: string }).version;
}

/** The standard footer: machine (with an optional remark), versions, command and date. */
export function provenance(command: string, machineNote = ''): string[] {
  return [
    `- Machine: ${cpuModel()}, ${cpus().length} cores${machineNote ? `, ${machineNote}` : ''}`,
    `- Node ${process.version}, onnxruntime-node ${ortVersion()}`,
    `- Command: \`${command}\``,
    `- Date: ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}`,
  ];
}

/** Replaces the section whose heading is `heading` (or appends it), leaving the others alone. */
export function updateBenchmarkSection(heading: string, body: string): string {
  const path = join(ROOT, 'BENCHMARKS.md');
  let doc = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n\n';
  const text = `${heading}\n\n${body.replace(/\n*$/, '\n')}`;
  const start = doc.indexOf(`${heading}\n`);
  if (start >= 0) {
    const next = doc.indexOf('\n## ', start + heading.length);
    doc = doc.slice(0, start) + text + (next >= 0 ? doc.slice(next) : '');
  } else {
    doc = `${doc.replace(/\n*$/, '\n\n')}${text}`;
  }
  writeFileSync(path, doc);
  return path;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A markdown table: the header row, its rule, one line per row. */
export function markdownTable(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), `|${'---|'.repeat(headers.length)}`, ...rows.map(line)].join('\n');
}

/** Runs a script's main: an error is printed and exits with status 1. */
export function runScript(main: () => Promise<void>): void {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
