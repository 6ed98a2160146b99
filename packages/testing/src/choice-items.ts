/**
 * Items for comparing the one-graph score-choose-attribute path with the calls it replaces, and the
 * error measure those comparisons use.
 */
import type { AttributionResult, ChoiceExample } from '@crispr-bench/core';

/**
 * Token-id items for the T5 vocabulary (the assets' `t5-export-tiny`): three of 3 candidates and
 * one of 2. Item 2 offers the same wrong answer twice, a tie that the lowest index wins.
 */
export const T5_CHOICE_ITEMS: ChoiceExample[] = [
  {
    promptIds: [37, 1782, 6, 3, 9, 1],
    candidates: [
      [3, 1],
      [9, 1],
      [1782, 6, 1],
    ],
    gold: 1,
  },
  {
    promptIds: [8, 12, 100, 5, 1],
    candidates: [
      [5, 1],
      [100, 1],
      [12, 1],
    ],
    gold: 0,
  },
  {
    promptIds: [37, 14, 1],
    candidates: [
      [200, 4, 1],
      [3, 1],
      [200, 4, 1],
    ],
    gold: 1,
  },
  {
    promptIds: [99, 98, 97, 96, 95, 94, 93, 1],
    candidates: [
      [7, 1],
      [8, 1],
    ],
    gold: 1,
  },
];

/** Largest |a - b| over one row of every site, scaled by that site's largest |b| in the row. */
export function worstScaledError(a: AttributionResult, rowA: number, b: AttributionResult, rowB: number): number {
  let worst = 0;
  for (const [k, s] of a.sites.entries()) {
    const other = b.sites[k];
    if (other?.name !== s.name) throw new Error(`site ${k} is '${s.name}' in one result and '${other?.name}' in the other`);
    const x = s.values[rowA]!;
    const y = other.values[rowB]!;
    let scale = 0;
    let diff = 0;
    for (let u = 0; u < x.length; u++) {
      scale = Math.max(scale, Math.abs(y[u]!));
      diff = Math.max(diff, Math.abs(x[u]! - y[u]!));
    }
    worst = Math.max(worst, scale > 0 ? diff / scale : diff);
  }
  return worst;
}
