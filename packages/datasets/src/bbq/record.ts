import { ANS_KEYS, bbqFields, type BbqRecord } from './schema.js';
import { deriveTargetIndex, deriveUnknownIndex } from './target.js';
import type { BbqItem } from './types.js';

/**
 * One line of a BBQ JSONL file, checked field by field (schema.ts) and across fields: exactly
 * one unknown option, an ambiguous item's label is the unknown option and a disambiguated
 * item's is not.
 */
export const bbqRecord = bbqFields.superRefine((r, ctx) => {
  const unknown = deriveUnknownIndex(
    ANS_KEYS.map((k) => r.answer_info[k]),
    [r.ans0, r.ans1, r.ans2],
  );
  if (unknown === null) {
    ctx.addIssue({
      code: 'custom',
      path: ['answer_info'],
      message:
        'cannot tell which option is "unknown": need exactly one entry labelled "unknown" ' +
        '(or exactly one option worded as one of the ten BBQ unknown phrasings)',
    });
  } else if (r.context_condition === 'ambig' && r.label !== unknown) {
    ctx.addIssue({
      code: 'custom',
      path: ['label'],
      message: `an ambiguous-context item must be labelled with its unknown option (ans${unknown}), got ${r.label}`,
    });
  } else if (r.context_condition === 'disambig' && r.label === unknown) {
    ctx.addIssue({ code: 'custom', path: ['label'], message: `a disambiguated-context item cannot be labelled with its unknown option (ans${unknown})` });
  }
});

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
      ...(target.index === null ? { targetNote: target.note } : {}),
    },
  };
  if (sub !== undefined && sub !== '' && sub !== 'None') item.subcategory = sub;
  return item;
}
