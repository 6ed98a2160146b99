import { readTemplateSet } from './templates.js';
import { iterateExpansion } from './expander.js';
import { deriveUnknownIndex } from './target.js';
import type { BbqItem } from './types.js';

/**
 * Checks that the expander can regenerate official items: for every official item, some item of
 * the exhaustive expansion has the same context, the same question and the same set of answers.
 * The unknown option is compared as "one of the ten phrasings" rather than by wording, because
 * the generator draws the wording at random per filled template.
 */
export interface CoverageReport {
  category: string;
  official: number;
  covered: number;
  /** covered / official. */
  rate: number;
  /** Size of the exhaustive expansion that was searched. */
  expanded: number;
  /** Official items with no counterpart: "<example_id>: <context> | <question> | <answers>". */
  misses: string[];
}

function key(context: string, question: string, nonUnknownAnswers: string[]): string {
  return `${context}\u0001${question}\u0001${[...nonUnknownAnswers].sort().join('\u0002')}`;
}

export async function expansionCoverage(templatesDir: string, category: string, official: readonly BbqItem[]): Promise<CoverageReport> {
  const wanted = new Map<string, boolean>();
  const officialKeys = official.map((it) => {
    const k = key(
      it.fields.context ?? '',
      it.fields.question ?? '',
      it.options.filter((_, i) => i !== it.unknownIndex),
    );
    wanted.set(k, false);
    return k;
  });
  const set = await readTemplateSet(templatesDir, category);
  let expanded = 0;
  for (const group of iterateExpansion(set, { mode: 'exhaustive' })) {
    for (const r of group) {
      expanded++;
      const options = [r.ans0, r.ans1, r.ans2];
      const u = deriveUnknownIndex([r.answer_info.ans0, r.answer_info.ans1, r.answer_info.ans2], options);
      const k = key(
        r.context,
        r.question,
        options.filter((_, i) => i !== u),
      );
      if (wanted.has(k)) wanted.set(k, true);
    }
  }
  const misses: string[] = [];
  let covered = 0;
  official.forEach((it, i) => {
    if (wanted.get(officialKeys[i]!)) covered++;
    else misses.push(`${it.id}: ${it.fields.context} | ${it.fields.question} | ${it.options.join(' / ')}`);
  });
  return { category, official: official.length, covered, rate: official.length ? covered / official.length : 1, expanded, misses };
}
