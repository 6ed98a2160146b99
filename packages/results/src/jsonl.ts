/**
 * The one JSONL reader for the published files: every line parsed and checked against its
 * schema, errors naming the file, line and field path. `tornLastLine` drops an unparseable last
 * line (a writer killed mid-line appends at most one).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { cellRow, parseWith, type CellRow } from './sweep.js';

export function readJsonl<T>(file: string, schema: z.ZodType<T>, opts: { tornLastLine?: boolean } = {}): T[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  while (lines.length && !lines.at(-1)!.trim()) lines.pop();
  const out: T[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (e) {
      if (opts.tornLastLine && i === lines.length - 1) return;
      throw new Error(`${file}:${i + 1}: not JSON (${(e as Error).message})`);
    }
    out.push(parseWith(schema, raw, `${file}:${i + 1}`));
  });
  return out;
}

/** A sweep folder's cells in plan order (none when it has no cells.jsonl yet); a cell id written twice keeps its last row. */
export function readCells(dir: string, opts: { tornLastLine?: boolean } = {}): CellRow[] {
  const file = join(dir, 'cells.jsonl');
  if (!existsSync(file)) return [];
  const byId = new Map<string, CellRow>();
  for (const c of readJsonl(file, cellRow, opts)) byId.set(c.id, c);
  return [...byId.values()].sort((a, b) => a.index - b.index);
}
