import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { bbqRecordToItem, validateBbqRecord } from './record.js';
import type { BadLine, BbqItem, BbqLoadResult, BbqRecord, OnBadLine } from './types.js';
import { BbqFormatError } from './types.js';

export interface BbqLoadOptions {
  /** 'error' (default): throw on the first bad line. 'skip': leave it out and list it. */
  onBadLine?: OnBadLine;
}

/**
 * Parses BBQ JSONL text. `file` names the source in errors. Blank lines are ignored; every other
 * line must be one valid record, and example ids must be unique within the text.
 */
export function parseBbqJsonl(text: string, file: string, opts: BbqLoadOptions = {}): BbqLoadResult {
  const onBad = opts.onBadLine ?? 'error';
  if (onBad !== 'error' && onBad !== 'skip') throw new Error(`onBadLine must be "error" or "skip", got ${String(onBad)}`);
  const items: BbqItem[] = [];
  const skipped: BadLine[] = [];
  const underivedTarget: string[] = [];
  const seen = new Map<number, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    if (raw.trim() === '') continue;
    const lineNo = i + 1;
    const bad = (field: string | undefined, message: string): void => {
      const b: BadLine = { file, line: lineNo, ...(field !== undefined ? { field } : {}), message };
      if (onBad === 'error') throw new BbqFormatError(b);
      skipped.push(b);
    };
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      bad(undefined, `invalid JSON: ${(e as Error).message}`);
      continue;
    }
    const v = validateBbqRecord(value);
    if ('error' in v) {
      bad(v.error.field, v.error.message);
      continue;
    }
    const rec: BbqRecord = v.record;
    const prev = seen.get(rec.example_id);
    if (prev !== undefined) {
      bad('example_id', `duplicate example_id ${rec.example_id} (first on line ${prev})`);
      continue;
    }
    seen.set(rec.example_id, lineNo);
    const item = bbqRecordToItem(rec, { file, line: lineNo });
    if (item.targetIndex === null) underivedTarget.push(`${item.category}:${item.id}`);
    items.push(item);
  }
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
