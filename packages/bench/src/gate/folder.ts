/** Reads a sweep results folder for the gate: manifest, cells and per-item prediction files. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { predictionRow, readCells, readJsonl, readManifest, type CellRow, type Manifest, type PredictionRow } from '@crispr-bench/results';
import { IncomparableError } from './errors.js';

export interface GateFolder {
  dir: string;
  manifest: Manifest;
  cells: CellRow[];
  /** Prediction rows of a file, relative to the folder (read once). */
  predictions(file: string): PredictionRow[];
}

export function readGateFolder(dir: string, role: 'baseline' | 'candidate'): GateFolder {
  if (!existsSync(dir)) throw new IncomparableError(`--${role} ${dir} does not exist`);
  if (!statSync(dir).isDirectory() || !existsSync(join(dir, 'manifest.json'))) {
    const hint =
      existsSync(join(dir, 'results.json')) || dir.endsWith('.json')
        ? ' (a `crispr run` results.json has no per-item predictions; gate sweep folders written by `crispr sweep`)'
        : '';
    throw new IncomparableError(`--${role} ${dir} is not a sweep results folder: no manifest.json${hint}`);
  }
  const wrap = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw e instanceof IncomparableError ? e : new IncomparableError(`--${role}: ${(e as Error).message}`);
    }
  };
  const manifest = wrap(() => readManifest(dir));
  // A resumed run may append a cell twice; the last row wins, as in the report.
  const cells = wrap(() => readCells(dir));
  const cache = new Map<string, PredictionRow[]>();
  return {
    dir,
    manifest,
    cells,
    predictions(file) {
      let rows = cache.get(file);
      if (!rows) {
        const path = join(dir, file);
        if (!existsSync(path)) throw new IncomparableError(`--${role}: ${path} (named by cells.jsonl) does not exist`);
        rows = wrap(() => readJsonl(path, predictionRow));
        cache.set(file, rows);
      }
      return rows;
    },
  };
}
