/**
 * Predictions made elsewhere: JSONL lines `{"example_id": ..., "category"?: ..., "<field>": ...}`
 * where the field holds an option index (integer) or free text (generation judge). Parsing takes
 * the file's text (judges load no files) and names file, line and field in every error. Joining is by
 * example_id and, when a line has one, category (BBQ example ids repeat across categories).
 */
import { expected, parseJsonl, type McItem } from '@crispr-bench/core/common';
import { z } from 'zod';
import type { ScoredItem } from './bbq-metrics.js';
import { matchGeneration } from './generation-judge.js';

export interface PredictionLine {
  /** 1-based line number in the file. */
  line: number;
  id: string;
  category: string | null;
  value: number | string;
  /** The value of the grouping field (`by`), when one was asked for. */
  group?: string;
}

export class PredictionFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PredictionFileError';
  }
}

/** One line of a predictions file whose prediction is in `field` (and grouping value in `by`). */
export function predictionLine(field: string, by?: string) {
  const shape: Record<string, z.ZodType> = {
    example_id: z.union([z.int().nonnegative(), z.string().min(1)], expected('a non-negative integer or a non-empty string')).transform((v) => String(v)),
    category: z.string(expected('a non-empty string')).min(1, expected('a non-empty string')).nullish(),
    [field]: z.union([z.int().nonnegative(), z.string()], expected('an option index (integer >= 0) or a text')),
  };
  if (by !== undefined) shape[by] = z.union([z.string(), z.number()], expected(`a string or a number (the --by field)`)).transform((v) => String(v));
  return z.looseObject(shape);
}

/**
 * Parse a predictions JSONL text; with `by`, each line also carries its group. Blank lines are
 * allowed; anything else malformed is a FileFormatError naming file, line and field.
 */
export function parsePredictions(text: string, file: string, field: string, by?: string): PredictionLine[] {
  return parseJsonl(text, file, predictionLine(field, by)).rows.map(({ line, value: o }) => ({
    line,
    id: o.example_id as string,
    category: (o.category as string | null | undefined) ?? null,
    value: o[field] as number | string,
    ...(by !== undefined ? { group: o[by] as string } : {}),
  }));
}

export interface UnmatchedOutput {
  item: McItem;
  line: number;
  text: string;
  reason: 'no-match' | 'ambiguous';
}

export interface JudgedPredictions {
  /** Items with a prediction, in item order; pred null = unmatched text. */
  scored: ScoredItem[];
  /** Items that have no prediction (category/id). */
  missing: string[];
  /** Prediction lines whose id (and category) matches no item, as "category/id" or "id" with line. */
  orphans: { line: number; key: string }[];
  unmatched: UnmatchedOutput[];
  /** How many predictions were option indices and how many texts. */
  nIndex: number;
  nText: number;
}

const key = (category: string, id: string): string => `${category}\u0000${id}`;

/**
 * Join predictions to items and judge each: an integer is taken as the option index (checked
 * against the item's options), a text goes through the generation judge.
 */
export function judgePredictions(items: readonly McItem[], preds: readonly PredictionLine[], file: string): JudgedPredictions {
  const byKey = new Map<string, number>();
  const byId = new Map<string, number[]>();
  items.forEach((it, i) => {
    const k = key(it.category, it.id);
    if (byKey.has(k)) throw new PredictionFileError(`items: example_id ${it.id} occurs twice in category ${it.category}`);
    byKey.set(k, i);
    let l = byId.get(it.id);
    if (!l) byId.set(it.id, (l = []));
    l.push(i);
  });
  const predFor = new Array<PredictionLine | undefined>(items.length);
  const orphans: { line: number; key: string }[] = [];
  for (const p of preds) {
    let idx: number | undefined;
    if (p.category !== null) idx = byKey.get(key(p.category, p.id));
    else {
      const l = byId.get(p.id);
      if (l && l.length > 1) {
        const cats = l.map((i) => items[i]!.category);
        throw new PredictionFileError(
          `${file}:${p.line}: example_id ${p.id} has no "category" but occurs in ${l.length} categories (${cats.join(', ')}); add a "category" field`,
        );
      }
      idx = l?.[0];
    }
    if (idx === undefined) {
      orphans.push({ line: p.line, key: p.category !== null ? `${p.category}/${p.id}` : p.id });
      continue;
    }
    const prev = predFor[idx];
    if (prev) {
      const it = items[idx]!;
      throw new PredictionFileError(`${file}:${p.line}: second prediction for ${it.category}/${it.id} (first at line ${prev.line})`);
    }
    predFor[idx] = p;
  }
  const scored: ScoredItem[] = [];
  const missing: string[] = [];
  const unmatched: UnmatchedOutput[] = [];
  let nIndex = 0,
    nText = 0;
  items.forEach((item, i) => {
    const p = predFor[i];
    if (!p) {
      missing.push(`${item.category}/${item.id}`);
      return;
    }
    if (typeof p.value === 'number') {
      nIndex++;
      if (p.value >= item.options.length) {
        throw new PredictionFileError(
          `${file}:${p.line}: option index ${p.value} out of range for ${item.category}/${item.id} (${item.options.length} options)`,
        );
      }
      scored.push({ item, pred: p.value });
    } else {
      nText++;
      const m = matchGeneration(p.value, item);
      if (m.matched) scored.push({ item, pred: m.index });
      else {
        scored.push({ item, pred: null });
        unmatched.push({ item, line: p.line, text: p.value, reason: m.reason });
      }
    }
  });
  return { scored, missing, orphans, unmatched, nIndex: nIndex, nText: nText };
}
