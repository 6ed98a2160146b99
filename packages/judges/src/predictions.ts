/**
 * Predictions made elsewhere: JSONL lines `{"example_id": ..., "category"?: ..., "<field>": ...}`
 * where the field holds an option index (integer) or free text (generation judge). Parsing takes
 * the file's text (judges load no files) and names file and line in every error. Joining is by
 * example_id and, when a line has one, category (BBQ example ids repeat across categories).
 */
import type { McItem } from '@crispr-bench/core';
import type { ScoredItem } from './bbq-metrics.js';
import { matchGeneration } from './generation-judge.js';

export interface PredictionLine {
  /** 1-based line number in the file. */
  line: number;
  id: string;
  category: string | null;
  value: number | string;
}

export class PredictionFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PredictionFileError';
  }
}

/** Parse a predictions JSONL text. Blank lines are allowed; anything else malformed is an error. */
export function parsePredictions(text: string, file: string, field: string): PredictionLine[] {
  const out: PredictionLine[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const at = `${file}:${line}`;
    if (raw.trim() === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch (e) {
      throw new PredictionFileError(`${at}: malformed JSON (${(e as Error).message})`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new PredictionFileError(`${at}: expected a JSON object`);
    }
    const o = obj as Record<string, unknown>;
    const rawId = o.example_id;
    let id: string;
    if (typeof rawId === 'number' && Number.isInteger(rawId) && rawId >= 0) id = String(rawId);
    else if (typeof rawId === 'string' && rawId !== '') id = rawId;
    else throw new PredictionFileError(`${at}: "example_id" must be a non-negative integer or a non-empty string, got ${JSON.stringify(rawId)}`);
    const rawCat = o.category;
    let category: string | null = null;
    if (rawCat !== undefined && rawCat !== null) {
      if (typeof rawCat !== 'string' || rawCat === '')
        throw new PredictionFileError(`${at}: "category" must be a non-empty string, got ${JSON.stringify(rawCat)}`);
      category = rawCat;
    }
    if (!(field in o)) {
      throw new PredictionFileError(`${at}: no field "${field}" (fields: ${Object.keys(o).join(', ')})`);
    }
    const v = o[field];
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0) throw new PredictionFileError(`${at}: "${field}" is a number but not an option index: ${v}`);
    } else if (typeof v !== 'string') {
      throw new PredictionFileError(`${at}: "${field}" must be an option index or a text, got ${JSON.stringify(v)}`);
    }
    out.push({ line, id, category, value: v });
  });
  return out;
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
  n_index: number;
  n_text: number;
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
  return { scored, missing, orphans, unmatched, n_index: nIndex, n_text: nText };
}
