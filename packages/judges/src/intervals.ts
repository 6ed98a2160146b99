/** Bootstrap intervals for the BBQ and pronoun metrics, single runs and paired runs. */
import { BBQ_HEADLINE_KEYS, bbqMetrics, type BbqHeadlineKey, type ScoredItem } from './bbq-metrics.js';
import { bootstrap, bootstrapPaired, type BootstrapOptions, type Interval } from './bootstrap.js';
import { PRONOUN_HEADLINE_KEYS, pronounMetrics, type PronounScored } from './pronoun-metrics.js';

export type PronounHeadlineKey = (typeof PRONOUN_HEADLINE_KEYS)[number];

/** Intervals for every headline BBQ metric (resampling items). */
export function bbqIntervals(scored: readonly ScoredItem[], opts: BootstrapOptions = {}): Record<BbqHeadlineKey, Interval> {
  return bootstrap(scored.length, (idx) => bbqMetrics(scored, idx), BBQ_HEADLINE_KEYS, opts);
}

/** Both runs must list the same items in the same order, so that one index set fits both. */
function checkAligned(a: readonly { item: { id: string; category: string } }[], b: typeof a): void {
  if (a.length !== b.length) throw new RangeError(`paired bootstrap: run A has ${a.length} items, run B ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!.item,
      y = b[i]!.item;
    if (x.id !== y.id || x.category !== y.category) {
      throw new RangeError(`paired bootstrap: position ${i} is ${x.category}/${x.id} in run A but ${y.category}/${y.id} in run B`);
    }
  }
}

/** Intervals for B - A of every headline BBQ metric, two runs on the same items. */
export function bbqPairedIntervals(a: readonly ScoredItem[], b: readonly ScoredItem[], opts: BootstrapOptions = {}): Record<BbqHeadlineKey, Interval> {
  checkAligned(a, b);
  return bootstrapPaired(
    a.length,
    (idx) => bbqMetrics(a, idx),
    (idx) => bbqMetrics(b, idx),
    BBQ_HEADLINE_KEYS,
    opts,
  );
}

export function pronounIntervals(scored: readonly PronounScored[], opts: BootstrapOptions = {}): Record<PronounHeadlineKey, Interval> {
  return bootstrap(scored.length, (idx) => pronounMetrics(scored, idx), PRONOUN_HEADLINE_KEYS, opts);
}

export function pronounPairedIntervals(
  a: readonly PronounScored[],
  b: readonly PronounScored[],
  opts: BootstrapOptions = {},
): Record<PronounHeadlineKey, Interval> {
  checkAligned(a, b);
  return bootstrapPaired(
    a.length,
    (idx) => pronounMetrics(a, idx),
    (idx) => pronounMetrics(b, idx),
    PRONOUN_HEADLINE_KEYS,
    opts,
  );
}
