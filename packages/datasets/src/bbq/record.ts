import type { AnswerInfoEntry, BbqItem, BbqRecord } from './types.js';
import { deriveTargetIndex, deriveUnknownIndex } from './target.js';

/** A validation failure: the field (dotted path) and what is wrong with it. */
export interface FieldError {
  field?: string;
  message: string;
}

const ANS_KEYS = ['ans0', 'ans1', 'ans2'] as const;

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks one parsed JSON value against the BBQ schema and returns the typed record, or the
 * first field that is missing or wrong. Semantic checks too: exactly one unknown option, an
 * ambiguous item's label is the unknown option and a disambiguated item's is not.
 */
export function validateBbqRecord(v: unknown): { record: BbqRecord } | { error: FieldError } {
  const fail = (field: string | undefined, message: string) => ({ error: { field, message } });
  if (!isObject(v)) return fail(undefined, `expected a JSON object, got ${show(v)}`);
  const need = (k: string) => (k in v ? undefined : fail(k, 'missing'));

  for (const k of [
    'example_id',
    'question_index',
    'question_polarity',
    'context_condition',
    'category',
    'answer_info',
    'additional_metadata',
    'context',
    'question',
    'ans0',
    'ans1',
    'ans2',
    'label',
  ]) {
    const m = need(k);
    if (m) return m;
  }
  const id = v.example_id;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
    return fail('example_id', `expected a non-negative integer, got ${show(id)}`);
  }
  const qi = v.question_index;
  if (!(typeof qi === 'string' && qi.trim() !== '') && !(typeof qi === 'number' && Number.isInteger(qi))) {
    return fail('question_index', `expected a non-empty string or an integer, got ${show(qi)}`);
  }
  if (v.question_polarity !== 'neg' && v.question_polarity !== 'nonneg') {
    return fail('question_polarity', `expected "neg" or "nonneg", got ${show(v.question_polarity)}`);
  }
  if (v.context_condition !== 'ambig' && v.context_condition !== 'disambig') {
    return fail('context_condition', `expected "ambig" or "disambig", got ${show(v.context_condition)}`);
  }
  for (const k of ['category', 'context', 'question', 'ans0', 'ans1', 'ans2'] as const) {
    const s = v[k];
    if (typeof s !== 'string') return fail(k, `expected a string, got ${show(s)}`);
    if (s.trim() === '') return fail(k, 'must not be empty');
  }
  const ai = v.answer_info;
  if (!isObject(ai)) return fail('answer_info', `expected an object with ans0..ans2, got ${show(ai)}`);
  for (const k of ANS_KEYS) {
    const e = ai[k];
    if (e === undefined) return fail(`answer_info.${k}`, 'missing');
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || typeof e[1] !== 'string') {
      return fail(`answer_info.${k}`, `expected [text, group label] (two strings), got ${show(e)}`);
    }
  }
  const am = v.additional_metadata;
  if (!isObject(am)) return fail('additional_metadata', `expected an object, got ${show(am)}`);
  const sg = am.stereotyped_groups;
  if (sg === undefined) return fail('additional_metadata.stereotyped_groups', 'missing');
  if (!Array.isArray(sg) || !sg.every((g) => typeof g === 'string')) {
    return fail('additional_metadata.stereotyped_groups', `expected an array of strings, got ${show(sg)}`);
  }
  for (const k of ['subcategory', 'version', 'source'] as const) {
    if (am[k] !== undefined && typeof am[k] !== 'string') {
      return fail(`additional_metadata.${k}`, `expected a string, got ${show(am[k])}`);
    }
  }
  const label = v.label;
  if (typeof label !== 'number' || !Number.isInteger(label)) {
    return fail('label', `expected an integer 0..2, got ${show(label)}`);
  }
  if (label < 0 || label > 2) return fail('label', `out of range: ${label} (options are ans0..ans2, so 0..2)`);

  const record = {
    ...(v as unknown as BbqRecord),
    question_index: String(qi),
    answer_info: { ans0: ai.ans0 as AnswerInfoEntry, ans1: ai.ans1 as AnswerInfoEntry, ans2: ai.ans2 as AnswerInfoEntry },
  };
  const infos = ANS_KEYS.map((k) => record.answer_info[k]);
  const unknown = deriveUnknownIndex(infos, [record.ans0, record.ans1, record.ans2]);
  if (unknown === null) {
    return fail(
      'answer_info',
      'cannot tell which option is "unknown": need exactly one entry labelled "unknown" ' +
        '(or exactly one option worded as one of the ten BBQ unknown phrasings)',
    );
  }
  if (record.context_condition === 'ambig' && label !== unknown) {
    return fail('label', `an ambiguous-context item must be labelled with its unknown option (ans${unknown}), got ${label}`);
  }
  if (record.context_condition === 'disambig' && label === unknown) {
    return fail('label', `a disambiguated-context item cannot be labelled with its unknown option (ans${unknown})`);
  }
  return { record };
}

/** Turns a validated record into an item (unknown and target indices derived). */
export function bbqRecordToItem(record: BbqRecord, where?: { file?: string; line?: number }): BbqItem {
  const infos = ANS_KEYS.map((k) => record.answer_info[k]);
  const options = [record.ans0, record.ans1, record.ans2];
  const unknownIndex = deriveUnknownIndex(infos, options);
  if (unknownIndex === null) throw new Error(`BBQ item ${record.category}:${record.example_id}: no unknown option`);
  const target = deriveTargetIndex(infos, record.additional_metadata.stereotyped_groups, unknownIndex);
  const sub = record.additional_metadata.subcategory;
  const item: BbqItem = {
    id: String(record.example_id),
    category: record.category,
    fields: { context: record.context, question: record.question },
    options,
    label: record.label,
    unknownIndex,
    targetIndex: target.index,
    polarity: record.question_polarity,
    condition: record.context_condition,
    meta: {
      example_id: record.example_id,
      question_index: record.question_index,
      answer_info: record.answer_info,
      stereotyped_groups: record.additional_metadata.stereotyped_groups,
      additional_metadata: record.additional_metadata,
      ...(where?.file !== undefined ? { file: where.file } : {}),
      ...(where?.line !== undefined ? { line: where.line } : {}),
      ...(target.index === null ? { target_note: target.note } : {}),
    },
  };
  if (sub !== undefined && sub !== '' && sub !== 'None') item.subcategory = sub;
  return item;
}
