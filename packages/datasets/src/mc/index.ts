import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { McItem } from '@crispr-bench/core';
import { BbqFormatError, type BadLine, type OnBadLine } from '../bbq/types.js';

/**
 * Generic multiple-choice JSONL, for NLU tasks users bring themselves (MRPC, RTE, QNLI, ...):
 * one object a line, {"id", <text fields>..., "options": [...], "label": <index or null>}.
 * Text fields are the other string-valued keys (or a "fields" object of strings); they are what
 * prompt templates refer to by name. Optional "category" and "subcategory" strings; any other
 * value is kept in meta.
 */

export interface McLoadOptions {
  /** Category for lines without one (default: the file name without extension). */
  category?: string;
  onBadLine?: OnBadLine;
}

export interface McLoadResult {
  items: McItem[];
  skipped: BadLine[];
}

const RESERVED = new Set(['id', 'options', 'label', 'category', 'subcategory', 'fields', 'meta']);

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function parseMcJsonl(text: string, file: string, opts: McLoadOptions = {}): McLoadResult {
  const onBad = opts.onBadLine ?? 'error';
  const defCategory = opts.category ?? basename(file, extname(file));
  const items: McItem[] = [];
  const skipped: BadLine[] = [];
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, '');
    if (raw.trim() === '') continue;
    const line = i + 1;
    const bad = (field: string | undefined, message: string) => {
      const b: BadLine = { file, line, ...(field !== undefined ? { field } : {}), message };
      if (onBad === 'error') throw new BbqFormatError(b);
      skipped.push(b);
    };
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      bad(undefined, `invalid JSON: ${(e as Error).message}`);
      continue;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      bad(undefined, `expected a JSON object, got ${show(v)}`);
      continue;
    }
    const o = v as Record<string, unknown>;
    if (!('id' in o)) {
      bad('id', 'missing');
      continue;
    }
    if (!(typeof o.id === 'string' && o.id !== '') && !(typeof o.id === 'number' && Number.isInteger(o.id))) {
      bad('id', `expected a non-empty string or an integer, got ${show(o.id)}`);
      continue;
    }
    const id = String(o.id);
    if (!('options' in o)) {
      bad('options', 'missing');
      continue;
    }
    const options = o.options;
    if (!Array.isArray(options) || options.length < 2 || !options.every((x) => typeof x === 'string' && x !== '')) {
      bad('options', `expected an array of at least two non-empty strings, got ${show(options)}`);
      continue;
    }
    if (!('label' in o)) {
      bad('label', 'missing (use null when no option is correct)');
      continue;
    }
    const label = o.label;
    if (label !== null && (typeof label !== 'number' || !Number.isInteger(label))) {
      bad('label', `expected an integer option index or null, got ${show(label)}`);
      continue;
    }
    if (typeof label === 'number' && (label < 0 || label >= options.length)) {
      bad('label', `out of range: ${label} (${options.length} options, so 0..${options.length - 1})`);
      continue;
    }
    const badMeta = (['category', 'subcategory'] as const).find((k) => o[k] !== undefined && typeof o[k] !== 'string');
    if (badMeta !== undefined) {
      bad(badMeta, `expected a string, got ${show(o[badMeta])}`);
      continue;
    }
    const fields: Record<string, string> = {};
    const meta: Record<string, unknown> = {};
    if (o.fields !== undefined) {
      if (typeof o.fields !== 'object' || o.fields === null || Array.isArray(o.fields)) {
        bad('fields', `expected an object of strings, got ${show(o.fields)}`);
        continue;
      }
      const badKey = Object.entries(o.fields).find(([, x]) => typeof x !== 'string');
      if (badKey) {
        bad(`fields.${badKey[0]}`, `expected a string, got ${show(badKey[1])}`);
        continue;
      }
      Object.assign(fields, o.fields);
    }
    for (const [k, x] of Object.entries(o)) {
      if (RESERVED.has(k)) continue;
      if (typeof x === 'string') fields[k] = x;
      else meta[k] = x;
    }
    if (o.meta !== undefined) meta.meta = o.meta;
    if (Object.keys(fields).length === 0) {
      bad(undefined, 'no text fields (string-valued keys besides id/options/label)');
      continue;
    }
    const prev = seen.get(id);
    if (prev !== undefined) {
      bad('id', `duplicate id ${JSON.stringify(id)} (first on line ${prev})`);
      continue;
    }
    seen.set(id, line);
    const item: McItem = {
      id,
      category: (o.category as string | undefined) ?? defCategory,
      fields,
      options: options as string[],
      label: label as number | null,
      unknownIndex: null,
      targetIndex: null,
      polarity: null,
      condition: null,
      meta: { ...meta, file, line },
    };
    if (typeof o.subcategory === 'string') item.subcategory = o.subcategory;
    items.push(item);
  }
  return { items, skipped };
}

export async function loadMcJsonl(path: string, opts: McLoadOptions = {}): Promise<McLoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read multiple-choice file ${path}: ${(e as Error).message}`);
  }
  return parseMcJsonl(text, path, opts);
}
