import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { expected, parseJsonl, showValue, type BadLine, type McItem } from '@crispr-bench/core/common';
import { z } from 'zod';

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
  onBadLine?: 'error' | 'skip';
}

export interface McLoadResult {
  items: McItem[];
  skipped: BadLine[];
}

const RESERVED = new Set(['id', 'options', 'label', 'category', 'subcategory', 'fields', 'meta']);

const optionList = 'an array of at least two non-empty strings';

/** One line of a multiple-choice JSONL file; the text fields are checked in mcLine. */
const mcFields = z
  .object({
    id: z.union([z.string().min(1), z.int()], expected('a non-empty string or an integer')).transform((v) => String(v)),
    options: z.array(z.string(), expected(optionList)).refine((o) => o.length >= 2 && o.every((x) => x !== ''), {
      error: (iss) => `expected ${optionList}, got ${showValue(iss.input)}`,
    }),
    label: z
      .int({
        error: (iss) =>
          iss.input === undefined ? 'missing (use null when no option is correct)' : `expected an integer option index or null, got ${showValue(iss.input)}`,
      })
      .nullable(),
    category: z.string().optional(),
    subcategory: z.string().optional(),
    fields: z.record(z.string(), z.string(), expected('an object of strings')).optional(),
  })
  .loose();

export const mcLine = mcFields.superRefine((o, ctx) => {
  if (o.label !== null && (o.label < 0 || o.label >= o.options.length)) {
    ctx.addIssue({ code: 'custom', path: ['label'], message: `out of range: ${o.label} (${o.options.length} options, so 0..${o.options.length - 1})` });
  } else if (o.fields === undefined && !Object.entries(o).some(([k, x]) => !RESERVED.has(k) && typeof x === 'string')) {
    ctx.addIssue({ code: 'custom', path: [], message: 'no text fields (string-valued keys besides id/options/label)' });
  }
});

export function parseMcJsonl(text: string, file: string, opts: McLoadOptions = {}): McLoadResult {
  const defCategory = opts.category ?? basename(file, extname(file));
  const seen = new Map<string, number>();
  const { rows, skipped } = parseJsonl(text, file, mcLine, {
    ...(opts.onBadLine ? { onBadLine: opts.onBadLine } : {}),
    check: ({ line, value }) => {
      const prev = seen.get(value.id);
      if (prev !== undefined) return { field: 'id', message: `duplicate id ${JSON.stringify(value.id)} (first on line ${prev})` };
      seen.set(value.id, line);
      return null;
    },
  });
  const items = rows.map(({ line, value: o }): McItem => {
    const fields: Record<string, string> = { ...o.fields };
    const meta: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) {
      if (RESERVED.has(k)) continue;
      if (typeof x === 'string') fields[k] = x;
      else meta[k] = x;
    }
    if (o.meta !== undefined) meta.meta = o.meta;
    return {
      id: o.id,
      category: o.category ?? defCategory,
      fields,
      options: o.options,
      label: o.label,
      unknownIndex: null,
      targetIndex: null,
      polarity: null,
      condition: null,
      meta: { ...meta, file, line },
      ...(o.subcategory !== undefined ? { subcategory: o.subcategory } : {}),
    };
  });
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
