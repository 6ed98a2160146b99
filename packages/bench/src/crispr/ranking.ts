/** Neuron rankings: the ordered list of (site, unit) that pruning takes its top k from. */
import { createRng, pruningMasks, type NeuronRef } from '@crispr-bench/core';

export interface RankedNeuron extends NeuronRef {
  score: number;
}

/** Sorts every unit of every site by score, highest first; ties by site name then unit. */
export function rankNeurons(scores: Record<string, ArrayLike<number>>): RankedNeuron[] {
  const out: RankedNeuron[] = [];
  for (const [site, v] of Object.entries(scores)) {
    for (let u = 0; u < v.length; u++) {
      const s = v[u]!;
      if (Number.isNaN(s)) throw new Error(`score of ${site}[${u}] is NaN`);
      out.push({ site, unit: u, score: s });
    }
  }
  out.sort((a, b) => b.score - a.score || (a.site < b.site ? -1 : a.site > b.site ? 1 : a.unit - b.unit));
  return out;
}

/** Masks (1 = keep, 0 = pruned) for the top k neurons of a ranking. */
export function masksForTopK(ranking: RankedNeuron[], k: number, widths: Record<string, number>): Record<string, Float32Array> {
  if (k > ranking.length) throw new Error(`cannot prune ${k} neurons: the ranking has ${ranking.length}`);
  return pruningMasks(
    Object.entries(widths).map(([name, width]) => ({ name, width })),
    ranking.slice(0, k),
  );
}

/** The random-pruning control: k units drawn uniformly without replacement, seeded. */
export function randomRanking(widths: Record<string, number>, seed: number): RankedNeuron[] {
  const all: RankedNeuron[] = [];
  for (const [site, w] of Object.entries(widths)) for (let u = 0; u < w; u++) all.push({ site, unit: u, score: 0 });
  const order = createRng(seed).shuffle(all);
  return order.map((n, i) => ({ ...n, score: order.length - i }));
}
