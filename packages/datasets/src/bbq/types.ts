import type { BadLine, ContextCondition, McItem, Polarity } from '@crispr-bench/core/common';
import type { BbqRecord } from './schema.js';

export type { AnswerInfoEntry, BbqRecord } from './schema.js';

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
  targetNote?: string;
};

/** A BBQ question as an McItem: options = [ans0, ans1, ans2], fields = { context, question }. */
export interface BbqItem extends McItem {
  label: number;
  unknownIndex: number;
  polarity: Polarity;
  condition: ContextCondition;
  meta: BbqMeta;
}

export interface BbqLoadResult {
  items: BbqItem[];
  /** Lines skipped with onBadLine 'skip' (empty with 'error'). */
  skipped: BadLine[];
  /** Items whose stereotyped target could not be derived, as "<category>:<example_id>". */
  underivedTarget: string[];
}
