/**
 * results.csv: one row per cell, every metric with its interval and its change against the
 * original. No timing columns, so that a merged sharded sweep writes the same file as one run.
 */
import { writeFileSync } from 'node:fs';
import { stringify } from 'csv-stringify/sync';
import type { CellRow, Manifest } from '@crispr-bench/results';

export function resultsCsv(cells: readonly CellRow[], manifest: Pick<Manifest, 'datasets'>): string {
  const keys = [...new Set(manifest.datasets.flatMap((d) => d.metricInfo.map((m) => m.key)))];
  const header = ['index', 'id', 'model', 'method', 'variant', 'ranked_on', 'k', 'k_auto', 'dataset', 'role', 'instruction', 'instruction_use', 'n'];
  for (const k of keys) header.push(k, `${k}_lo`, `${k}_hi`, `delta_${k}`, `delta_${k}_lo`, `delta_${k}_hi`);
  const rows = [...cells]
    .sort((a, b) => a.index - b.index)
    .map((c) => {
      const r: (string | number | boolean | null)[] = [
        c.index,
        c.id,
        c.model,
        c.method,
        c.variant,
        c.rankedOn,
        c.k,
        c.kAuto,
        c.dataset,
        c.role,
        c.instruction,
        c.instructionUse,
        c.n,
      ];
      for (const k of keys) {
        const m = c.metrics[k];
        const d = c.delta?.[k];
        r.push(m?.value ?? null, m?.lo ?? null, m?.hi ?? null, d?.value ?? null, d?.lo ?? null, d?.hi ?? null);
      }
      return r;
    });
  return stringify([header, ...rows]);
}

export function writeResultsCsv(file: string, cells: readonly CellRow[], manifest: Pick<Manifest, 'datasets'>): void {
  writeFileSync(file, resultsCsv(cells, manifest));
}
