import type { McItem, ContextCondition, Polarity } from '@crispr-bench/core';

/** A BBQ-shaped item: options [A, B, Unknown] unless given. */
export function bbqItem(
  id: string,
  condition: ContextCondition | null,
  polarity: Polarity | null,
  label: number | null,
  targetIndex: number | null,
  opts: { category?: string; options?: string[]; unknownIndex?: number | null } = {},
): McItem {
  return {
    id,
    category: opts.category ?? 'X',
    fields: { context: `context ${id}`, question: `question ${id}` },
    options: opts.options ?? ['The grandfather', 'The grandson', "Can't be determined"],
    label,
    unknownIndex: opts.unknownIndex === undefined ? 2 : opts.unknownIndex,
    targetIndex,
    polarity,
    condition,
  };
}
