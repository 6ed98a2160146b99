/** The strongest neurons of one attribution row, and the finiteness check run before results are shown. */
import type { AttributionResult } from './types.js';

export interface TopNeuron {
  site: string;
  unit: number;
  layer: number;
  kind: string;
  value: number;
}

export function topNeurons(res: AttributionResult, n: number, row = 0): TopNeuron[] {
  const all: TopNeuron[] = [];
  for (const s of res.sites) {
    const v = s.values[row]!;
    for (let u = 0; u < v.length; u++) all.push({ site: s.name, unit: u, layer: s.layer, kind: s.kind, value: v[u]! });
  }
  all.sort((a, b) => b.value - a.value);
  return all.slice(0, n);
}

/** A NaN or infinity in the result stops the command, naming the site and unit, before anything is printed or written. */
export function checkFiniteAttribution(res: AttributionResult, row = 0): void {
  if (!Number.isFinite(res.logprob[row]!))
    throw new Error(`log P(target) is ${res.logprob[row]}: the model's forward pass produced a non-finite number (run crispr inspect on the model)`);
  if (!Number.isFinite(res.objective[row]!)) throw new Error(`the objective is ${res.objective[row]}`);
  for (const s of res.sites) {
    const v = s.values[row]!;
    for (let u = 0; u < v.length; u++) if (!Number.isFinite(v[u]!)) throw new Error(`attribution of site ${s.name} unit ${u} is ${v[u]}`);
  }
}
