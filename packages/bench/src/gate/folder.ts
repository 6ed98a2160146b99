/** Reads a sweep results folder for the gate: manifest, cells and per-item prediction files. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cellRow, manifest as manifestSchema, parseWith, predictionRow, type CellRow, type Manifest, type PredictionRow } from '@crispr-bench/results';
import { IncomparableError } from './errors.js';

export interface GateFolder {
  dir: string;
  manifest: Manifest;
  cells: CellRow[];
  /** Prediction rows of a file, relative to the folder (read once). */
  predictions(file: string): PredictionRow[];
}

function jsonLines<T>(file: string, parse: (raw: unknown, where: string) => T): T[] {
  const out: T[] = [];
  readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (e) {
      throw new IncomparableError(`${file}:${i + 1}: not JSON (${(e as Error).message})`);
    }
    out.push(parse(raw, `${file}:${i + 1}`));
  });
  return out;
}

export function readGateFolder(dir: string, role: 'baseline' | 'candidate'): GateFolder {
  if (!existsSync(dir)) throw new IncomparableError(`--${role} ${dir} does not exist`);
  if (!statSync(dir).isDirectory() || !existsSync(join(dir, 'manifest.json'))) {
    const hint = existsSync(join(dir, 'results.json')) || dir.endsWith('.json') ? ' (a `crispr run` results.json has no per-item predictions; gate sweep folders written by `crispr sweep`)' : '';
    throw new IncomparableError(`--${role} ${dir} is not a sweep results folder: no manifest.json${hint}`);
  }
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw e instanceof IncomparableError ? e : new IncomparableError(`--${role}: ${(e as Error).message}`);
    }
  };
  const manifest = wrap(() => parseWith(manifestSchema, JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')), join(dir, 'manifest.json')));
  // A resumed run may append a cell twice; the last row wins, as in the report.
  const byId = new Map<string, CellRow>();
  for (const c of wrap(() => jsonLines(join(dir, 'cells.jsonl'), (raw, where) => parseWith(cellRow, raw, where)))) byId.set(c.id, c);
  const cache = new Map<string, PredictionRow[]>();
  return {
    dir,
    manifest,
    cells: [...byId.values()].sort((a, b) => a.index - b.index),
    predictions(file) {
      let rows = cache.get(file);
      if (!rows) {
        const path = join(dir, file);
        if (!existsSync(path)) throw new IncomparableError(`--${role}: ${path} (named by cells.jsonl) does not exist`);
        rows = wrap(() => jsonLines(path, (raw, where) => parseWith(predictionRow, raw, where)));
        cache.set(file, rows);
      }
      return rows;
    },
  };
}
