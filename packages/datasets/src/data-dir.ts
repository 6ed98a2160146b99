import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's own data folder (packages/datasets/data), shipped with the code. */
export const DATA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../data');

export function readDataJson<T>(relPath: string): T {
  const p = resolve(DATA_DIR, relPath);
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as T;
  } catch (e) {
    throw new Error(`cannot read package data file ${p}: ${(e as Error).message}`);
  }
}
