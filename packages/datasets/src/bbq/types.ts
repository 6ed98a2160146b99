import type { ContextCondition, McItem, Polarity } from '@crispr-bench/core';

/** answer_info entry: [answer text as slotted, group label]; the unknown option has label "unknown". */
export type AnswerInfoEntry = [string, string];

/** One line of a BBQ JSONL file, as the official generator writes it (validated). */
export interface BbqRecord {
  example_id: number;
  question_index: string;
  question_polarity: Polarity;
  context_condition: ContextCondition;
  category: string;
  answer_info: { ans0: AnswerInfoEntry; ans1: AnswerInfoEntry; ans2: AnswerInfoEntry };
  additional_metadata: {
    subcategory?: string;
    stereotyped_groups: string[];
    version?: string;
    source?: string;
    [key: string]: unknown;
  };
  context: string;
  question: string;
  ans0: string;
  ans1: string;
  ans2: string;
  label: number;
}

/** What a BbqItem keeps from its source line (raw names, for reports and re-derivation). */
export type BbqMeta = {
  example_id: number;
  question_index: string;
  answer_info: BbqRecord['answer_info'];
  stereotyped_groups: string[];
  additional_metadata: BbqRecord['additional_metadata'];
  /** Source file and 1-based line, when loaded from a file. */
  file?: string;
  line?: number;
  /** Why the target could not be derived (only when targetIndex is null). */
  target_note?: string;
};

/** A BBQ question as an McItem: options = [ans0, ans1, ans2], fields = { context, question }. */
export interface BbqItem extends McItem {
  label: number;
  unknownIndex: number;
  polarity: Polarity;
  condition: ContextCondition;
  meta: BbqMeta;
}

/** A line that failed validation. */
export interface BadLine {
  file: string;
  /** 1-based line number. */
  line: number;
  /** The offending field, when one can be named (dotted path, e.g. "answer_info.ans1"). */
  field?: string;
  message: string;
}

export interface BbqLoadResult {
  items: BbqItem[];
  /** Lines skipped with onBadLine 'skip' (empty with 'error'). */
  skipped: BadLine[];
  /** Items whose stereotyped target could not be derived, as "<category>:<example_id>". */
  underivedTarget: string[];
}

export type OnBadLine = 'error' | 'skip';

/** Thrown for a bad line with onBadLine 'error'; the message names file, line and field. */
export class BbqFormatError extends Error {
  readonly file: string;
  readonly line: number;
  readonly field: string | undefined;
  constructor(bad: BadLine) {
    super(formatBadLine(bad));
    this.name = 'BbqFormatError';
    this.file = bad.file;
    this.line = bad.line;
    this.field = bad.field;
  }
}

export function formatBadLine(bad: BadLine): string {
  return `${bad.file}:${bad.line}: ${bad.field !== undefined ? `field "${bad.field}": ` : ''}${bad.message}`;
}
