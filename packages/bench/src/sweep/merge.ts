/**
 * `crispr merge`: shard folders of one sweep into one folder equal to an unsharded run's
 * (cells, predictions, rankings, results.csv). Refuses folders of different configs or versions,
 * a shard that has not finished (naming it), and missing or repeated shards.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError, UserError } from '@crispr-bench/core';
import { readCells, readManifest, type CellRow, type Manifest } from '@crispr-bench/results';
import { writeFileAtomic } from '../pipeline/store.js';
import { writeResultsCsv } from './results-csv.js';

export function mergeShards(dirs: readonly string[], out: string): { cells: number; shards: number } {
  if (dirs.length === 0) throw new UsageError('crispr merge: name the shard folders to merge');
  const shards = dirs.map((dir) => ({ dir, m: readManifest(dir) }));
  const first = shards[0]!;
  for (const s of shards) {
    if (s.m.configHash !== first.m.configHash)
      throw new UserError(
        `${s.dir} ran a different config (${s.m.configHash}) than ${first.dir} (${first.m.configHash}); shards of one sweep share one config`,
      );
    const v = (m: Manifest) => `tool ${m.versions.tool}, stages ${m.versions.stages}`;
    if (v(s.m) !== v(first.m)) throw new UserError(`${s.dir} was written by ${v(s.m)}, ${first.dir} by ${v(first.m)}; rerun the older shard`);
    if (!s.m.shard) throw new UserError(`${s.dir} is not a shard (it ran the whole sweep); merge shard folders only`);
    if (s.m.shard.count !== first.m.shard!.count)
      throw new UserError(`${s.dir} is shard ${s.m.shard.index}/${s.m.shard.count}, ${first.dir} is of ${first.m.shard!.count}`);
    if (!s.m.finishedAt || s.m.cells.finished !== s.m.cells.planned) {
      throw new UserError(
        `shard ${s.m.shard.index}/${s.m.shard.count} in ${s.dir} is incomplete (${s.m.cells.finished} of ${s.m.cells.planned} cells); run it again (it resumes) before merging`,
      );
    }
  }
  const count = first.m.shard!.count;
  const seen = new Map<number, string>();
  for (const s of shards) {
    const prev = seen.get(s.m.shard!.index);
    if (prev) throw new UserError(`shard ${s.m.shard!.index}/${count} appears twice: ${prev} and ${s.dir}`);
    seen.set(s.m.shard!.index, s.dir);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !seen.has(i));
  if (missing.length) throw new UserError(`missing shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')}`);

  const cells: CellRow[] = [];
  for (const s of shards) {
    const rows = readCells(s.dir);
    if (rows.length !== s.m.cells.planned) throw new UserError(`${s.dir}/cells.jsonl has ${rows.length} cells, its manifest says ${s.m.cells.planned}`);
    cells.push(...rows);
  }
  cells.sort((a, b) => a.index - b.index);
  for (let i = 1; i < cells.length; i++) if (cells[i]!.index === cells[i - 1]!.index) throw new UserError(`cell ${cells[i]!.id} is in two shards`);

  mkdirSync(out, { recursive: true });
  for (const s of shards) {
    for (const sub of ['predictions', 'rankings', 'logs']) if (existsSync(join(s.dir, sub))) cpSync(join(s.dir, sub), join(out, sub), { recursive: true });
  }
  const byLabel = <T extends { label: string }>(lists: T[][]) => [...new Map(lists.flat().map((x) => [x.label, x])).values()];
  const order = <T extends { label: string }>(xs: T[], labels: string[]) => [...xs].sort((a, b) => labels.indexOf(a.label) - labels.indexOf(b.label));
  const cfg = first.m.config as { models: { label: string }[]; datasets: { label: string }[] };
  const merged: Manifest = {
    ...first.m,
    shard: null,
    startedAt: shards.map((s) => s.m.startedAt).sort()[0]!,
    finishedAt: shards
      .map((s) => s.m.finishedAt!)
      .sort()
      .at(-1)!,
    models: order(
      byLabel(shards.map((s) => s.m.models)),
      cfg.models.map((m) => m.label),
    ),
    datasets: order(
      byLabel(shards.map((s) => s.m.datasets)),
      cfg.datasets.map((d) => d.label),
    ),
    cells: { planned: cells.length, finished: cells.length },
    timings: { total: shards.reduce((a, s) => a + (s.m.timings.total ?? 0), 0), shards: count },
  };
  writeFileAtomic(join(out, 'manifest.json'), `${JSON.stringify(merged, null, 2)}\n`);
  writeFileSync(join(out, 'cells.jsonl'), `${cells.map((c) => JSON.stringify(c)).join('\n')}\n`);
  writeResultsCsv(join(out, 'results.csv'), cells, merged);
  return { cells: cells.length, shards: count };
}

/** Shard folders under a parent folder (for `crispr merge <dir>/shards/*` without a shell glob). */
export function listShardDirs(parent: string): string[] {
  return readdirSync(parent, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(parent, e.name, 'manifest.json')))
    .map((e) => join(parent, e.name))
    .sort();
}
