/**
 * The BBQ JSONL line format (the official generator's, BBQ's own snake_case keys), as a zod
 * schema; the checks across fields (which option is "unknown") are in record.ts.
 */
import { expected, showValue } from '@crispr-bench/core/common';
import { z } from 'zod';

export const ANS_KEYS = ['ans0', 'ans1', 'ans2'] as const;

const text = z.string(expected('a string')).refine((s) => s.trim() !== '', { error: 'must not be empty' });
/** answer_info entry: [answer text as slotted, group label]; the unknown option has label "unknown". */
const answerInfoEntry = z.tuple([z.string(), z.string()], expected('[text, group label] (two strings)'));
export type AnswerInfoEntry = z.infer<typeof answerInfoEntry>;

export const bbqFields = z.object({
  example_id: z.int(expected('a non-negative integer')).nonnegative(expected('a non-negative integer')),
  question_index: z.union([z.string().refine((s) => s.trim() !== ''), z.int()], expected('a non-empty string or an integer')).transform((v) => String(v)),
  question_polarity: z.enum(['neg', 'nonneg']),
  context_condition: z.enum(['ambig', 'disambig']),
  category: text,
  answer_info: z.object({ ans0: answerInfoEntry, ans1: answerInfoEntry, ans2: answerInfoEntry }, expected('an object with ans0..ans2')),
  additional_metadata: z
    .object({
      subcategory: z.string().optional(),
      stereotyped_groups: z.array(z.string(), expected('an array of strings')),
      version: z.string().optional(),
      source: z.string().optional(),
    })
    .loose(),
  context: text,
  question: text,
  ans0: text,
  ans1: text,
  ans2: text,
  label: z
    .int(expected('an integer 0..2'))
    .min(0, { error: (iss) => `out of range: ${showValue(iss.input)} (options are ans0..ans2, so 0..2)` })
    .max(2, { error: (iss) => `out of range: ${showValue(iss.input)} (options are ans0..ans2, so 0..2)` }),
});

export type BbqRecord = z.output<typeof bbqFields>;
