import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readJsonFile } from '@crispr-bench/core/common';
import type { z } from 'zod';

/** The package's own data folder (packages/datasets/data), shipped with the code. */
export const DATA_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../data');

/** A JSON file of the package's data folder, checked against its schema. */
export function readDataJson<S extends z.ZodType>(relPath: string, schema: S): z.output<S> {
  return readJsonFile(resolve(DATA_DIR, relPath), schema);
}
