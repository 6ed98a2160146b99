/**
 * The sweep's plan: every cell, in one canonical order, grouped so that one group's scoring
 * covers all its cells. A cell is (model, method and variant with the dataset it was ranked on,
 * k, evaluation dataset, instruction); a group is a cell without the instruction (one masked
 * session scores every instruction). Shards take whole groups, round robin in plan order, so
 * that `--shard i/n` is deterministic and the shards' cells together are the plan's.
 */
import type { MethodName } from '@crispr-bench/results';

export interface PlanDataset {
  label: string;
  role: 'bias' | 'eval' | 'retention';
  /** generate: answers are generated, so calibration baselines (which reweight option scores) do not apply. */
  mode?: 'score' | 'generate';
  /** Instruction ids evaluated, with what each is used for. */
  instructions: { id: string; use: 'attribution' | 'heldout' }[];
}

export interface PlanGroup {
  /** Position among all groups of the plan. */
  index: number;
  model: string;
  method: MethodName;
  /** CRISPR ablation label ('default', 'reduce=mean', ...); '' for baselines and random. */
  variant: string;
  rankedOn: string | null;
  /** A number, or 'auto' (chosen on rankedOn's dev split). */
  k: number | 'auto';
  dataset: string;
  /** The cells: each instruction, then '*' (pooled) when there are several. */
  cells: { index: number; id: string; instruction: string; use: 'attribution' | 'heldout' | 'pooled' }[];
}

export interface PlanInput {
  /** Each model with the labels of the datasets it runs on. */
  models: { label: string; datasets: string[] }[];
  datasets: PlanDataset[];
  variants: string[];
  random: boolean;
  cc: boolean;
  dc: boolean;
  combined: ('cc' | 'dc')[];
  ks: (number | 'auto')[];
  transfer: { from: string; to: string[] }[];
}

export function groupId(g: Omit<PlanGroup, 'index' | 'cells'>): string {
  const method = g.variant ? `${g.method}[${g.variant}]` : g.method;
  return `${g.model}/${method}${g.rankedOn ? `@${g.rankedOn}` : ''}/k${g.k}/${g.dataset}`;
}

export function makePlan(p: PlanInput): PlanGroup[] {
  const groups: PlanGroup[] = [];
  let cellIndex = 0;
  const byLabel = new Map(p.datasets.map((d) => [d.label, d]));
  const pruneKs = p.ks.filter((k) => k !== 0);
  const add = (g: Omit<PlanGroup, 'index' | 'cells'>) => {
    const d = byLabel.get(g.dataset)!;
    const id = groupId(g);
    const cells: PlanGroup['cells'] = d.instructions.map((i) => ({ index: cellIndex++, id: `${id}/${i.id}`, instruction: i.id, use: i.use }));
    if (d.instructions.length > 1) cells.push({ index: cellIndex++, id: `${id}/*`, instruction: '*', use: 'pooled' });
    groups.push({ ...g, index: groups.length, cells });
  };
  // Which datasets each ranking is evaluated on: its own (test split), every eval and retention
  // dataset, and the transfer targets the config names.
  const targetsOf = (from: string): string[] => {
    const extra = new Set(p.transfer.filter((t) => t.from === from).flatMap((t) => t.to));
    return p.datasets.filter((d) => d.label === from || d.role !== 'bias' || extra.has(d.label)).map((d) => d.label);
  };
  for (const { label: model, datasets } of p.models) {
    const own = new Set(datasets);
    const sources = p.datasets.filter((d) => d.role === 'bias' && own.has(d.label)).map((d) => d.label);
    for (const d of p.datasets) {
      if (!own.has(d.label)) continue;
      add({ model, method: 'original', variant: '', rankedOn: null, k: 0, dataset: d.label });
      const scored = d.mode !== 'generate';
      if (p.cc && scored) add({ model, method: 'cc', variant: '', rankedOn: null, k: 0, dataset: d.label });
      if (p.dc && scored) add({ model, method: 'dc', variant: '', rankedOn: null, k: 0, dataset: d.label });
      for (const from of sources) {
        if (!targetsOf(from).includes(d.label)) continue;
        for (const variant of p.variants) for (const k of pruneKs) add({ model, method: 'crispr', variant, rankedOn: from, k, dataset: d.label });
        if (p.random) for (const k of pruneKs) add({ model, method: 'random', variant: '', rankedOn: from, k, dataset: d.label });
        if (scored)
          for (const c of p.combined)
            for (const k of pruneKs) add({ model, method: c === 'cc' ? 'crispr+cc' : 'crispr+dc', variant: 'default', rankedOn: from, k, dataset: d.label });
      }
    }
  }
  return groups;
}

/** The groups of shard `index` of `count` (1-based): every count-th group, in plan order. */
export function shardGroups(groups: readonly PlanGroup[], shard: { index: number; count: number } | null): PlanGroup[] {
  if (!shard) return [...groups];
  return groups.filter((g) => g.index % shard.count === shard.index - 1);
}
