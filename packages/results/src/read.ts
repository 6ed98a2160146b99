/**
 * Reading a sweep folder's manifest and cells. Every JSON and JSONL file goes through core's one reader
 * (readJsonl, readJsonFile, parseWith in @crispr-bench/core/common), re-exported here for the
 * readers of the published files (apps/report, the gate, crispr merge).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, readJsonl, UserError } from '@crispr-bench/core/common';
import { cellRow, manifest, type CellRow, type Manifest } from './sweep.js';

export { FileFormatError, parseWith, readJsonFile, readJsonl } from '@crispr-bench/core/common';

/** A sweep folder's cells in plan order (none when it has no cells.jsonl yet); a cell id written twice keeps its last row. */
export function readCells(dir: string, opts: { tornLastLine?: boolean } = {}): CellRow[] {
  const file = join(dir, 'cells.jsonl');
  if (!existsSync(file)) return [];
  const byId = new Map<string, CellRow>();
  for (const c of readJsonl(file, cellRow, opts)) byId.set(c.id, c);
  return [...byId.values()].sort((a, b) => a.index - b.index);
}

/** A sweep folder's manifest.json, checked against its schema. */
export function readManifest(dir: string): Manifest {
  const file = join(dir, 'manifest.json');
  if (!existsSync(file)) throw new UserError(`${dir}: no manifest.json (not a sweep results folder)`);
  return readJsonFile(file, manifest);
}
