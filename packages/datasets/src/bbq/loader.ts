import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseJsonl } from '@crispr-bench/core/common';
import { bbqRecord, bbqRecordToItem } from './record.js';
import type { BbqLoadResult } from './types.js';

export interface BbqLoadOptions {
  /** 'error' (default): throw on the first bad line. 'skip': leave it out and list it. */
  onBadLine?: 'error' | 'skip';
}

/**
 * Parses BBQ JSONL text. `file` names the source in errors. Blank lines are ignored; every other
 * line must be one valid record, and example ids must be unique within the text.
 */
export function parseBbqJsonl(text: string, file: string, opts: BbqLoadOptions = {}): BbqLoadResult {
  const seen = new Map<number, number>();
  const { rows, skipped } = parseJsonl(text, file, bbqRecord, {
    ...opts,
    check: ({ line, value }) => {
      const prev = seen.get(value.example_id);
      if (prev !== undefined) return { field: 'example_id', message: `duplicate example_id ${value.example_id} (first on line ${prev})` };
      seen.set(value.example_id, line);
      return null;
    },
  });
  const items = rows.map(({ line, value }) => bbqRecordToItem(value, { file, line }));
  const underivedTarget = items.filter((it) => it.targetIndex === null).map((it) => `${it.category}:${it.id}`);
  return { items, skipped, underivedTarget };
}

/** Loads one BBQ JSONL file (official format), validating every line. */
export async function loadBbqFile(path: string, opts: BbqLoadOptions = {}): Promise<BbqLoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read BBQ file ${path}: ${(e as Error).message}`);
  }
  return parseBbqJsonl(text, path, opts);
}

export interface BbqDirOptions extends BbqLoadOptions {
  /** Category file stems to load (e.g. ["Age", "SES"]); default all *.jsonl in the folder. */
  categories?: string[];
}

/** Lists the categories (file stems of *.jsonl) present in a BBQ data folder, sorted. */
export async function listBbqCategories(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new Error(`cannot read BBQ data folder ${dir}: ${(e as Error).message}`);
  }
  return names
    .filter((n) => n.endsWith('.jsonl'))
    .map((n) => basename(n, '.jsonl'))
    .sort();
}

/** Loads the category files of a BBQ data folder (official layout: <Category>.jsonl). */
export async function loadBbqDir(dir: string, opts: BbqDirOptions = {}): Promise<BbqLoadResult> {
  const available = await listBbqCategories(dir);
  let cats = available;
  if (opts.categories !== undefined) {
    const missing = opts.categories.filter((c) => !available.includes(c));
    if (missing.length > 0) {
      throw new Error(
        `BBQ category file(s) not found in ${dir}: ${missing.map((c) => `${c}.jsonl`).join(', ')} ` + `(available: ${available.join(', ') || 'none'})`,
      );
    }
    cats = opts.categories;
  }
  if (cats.length === 0) throw new Error(`no BBQ *.jsonl files in ${dir}`);
  const out: BbqLoadResult = { items: [], skipped: [], underivedTarget: [] };
  for (const c of cats) {
    const p = join(dir, `${c}.jsonl`);
    if (!(await stat(p)).isFile()) throw new Error(`${p} is not a file`);
    const r = await loadBbqFile(p, opts);
    out.items.push(...r.items);
    out.skipped.push(...r.skipped);
    out.underivedTarget.push(...r.underivedTarget);
  }
  return out;
}
