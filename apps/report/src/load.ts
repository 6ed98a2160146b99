/**
 * Reads the report's inputs: sweep results folders (manifest.json + cells.jsonl, validated with
 * the results schemas) and `crispr run` results.json files, into one ReportInput.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { rankingFile, runResults, readCells, readJsonFile, readManifest, type RunResults } from '@crispr-bench/results';
import type { MetricDef, ReportInput, ViewCell, ViewRun } from './model.js';
import { publishable, publishableValue } from './paths.js';

const KNOWN_METHODS = new Set(['original', 'crispr', 'random', 'cc', 'dc', 'crispr+cc', 'crispr+dc']);

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
const secs = (t: Record<string, number>) => Object.entries(t).map(([key, value]) => ({ key, value: `${value.toFixed(1)} s` }));

function addSweep(input: ReportInput, dir: string, outDir: string): void {
  const m = readManifest(dir);
  const run = input.runs.length;
  const pub = (s: string) => publishable(s, dir);
  const meta: ViewRun['meta'] = [
    {
      key: 'tool',
      value: `crispr-bench ${m.versions.tool}, Node ${m.versions.node}, onnxruntime ${m.versions.onnxruntime}, stage format ${m.versions.stages}`,
    },
    { key: 'git', value: m.git ?? 'unknown' },
    { key: 'machine', value: `${m.machine.cpu}, ${m.machine.cores} cores, ${m.machine.memoryGiB} GiB, ${m.machine.os}, provider ${m.machine.provider}` },
    { key: 'shard', value: m.shard ? `${m.shard.index} of ${m.shard.count}` : 'all cells' },
    { key: 'started', value: m.startedAt },
    { key: 'finished', value: m.finishedAt ?? 'not finished' },
    { key: 'cells', value: `${m.cells.finished} of ${m.cells.planned} planned` },
    { key: 'config hash', value: m.configHash },
    ...m.models.map((x) => ({ key: `model ${x.label}`, value: `${x.description} (${x.kind}, ${x.sites} sites, ${x.neurons} neurons)` })),
    ...m.datasets.map((d) => ({ key: `dataset ${d.label}`, value: `${d.description} (${d.kind}, ${d.role}, ${d.items} items)` })),
  ].map(({ key, value }) => ({ key: pub(key), value: pub(value) }));
  const config = publishableValue(m.config, dir) as Record<string, unknown>;
  input.runs.push({
    label: basename(dir),
    title: pub(m.title),
    kind: 'sweep',
    path: relPath(outDir, dir),
    meta,
    config: Object.entries(config).map(([key, value]) => ({ key, value: show(value) })),
    timings: secs(m.timings),
  });
  for (const d of m.datasets) if (!input.datasets.has(d.label)) input.datasets.set(d.label, { kind: d.kind, role: d.role, metrics: d.metricInfo });
  // A cell as the report sees it: the row without its bookkeeping (position, id, files, timing).
  for (const { schema: _schema, index: _index, id: _id, unmatched: _unmatched, predictions: _predictions, timing: _timing, ...cell } of readCells(dir)) {
    input.cells.push({ run, ...cell });
  }
  const rdir = join(dir, 'rankings');
  if (existsSync(rdir)) {
    // Rankings may sit in subfolders (rankings/<model>/<dataset>/<method>.json).
    const files = (readdirSync(rdir, { recursive: true }) as string[]).filter((x) => x.endsWith('.json')).sort();
    for (const f of files) {
      const r = readJsonFile(join(rdir, f), rankingFile);
      input.rankings.push({ run, model: r.model, rankedOn: r.rankedOn, variant: r.variant, neurons: r.neurons });
    }
  }
}

function addRun(input: ReportInput, file: string, outDir: string): void {
  addRunResults(input, readJsonFile(file, runResults), dirname(file), relPath(outDir, file));
}

/**
 * A `crispr run` results.json as cells: one dataset, pooled instructions, its sweep points.
 * `dir` is the run's folder (absolute paths in it are shown relative to it), `shownPath` where
 * the report says the file is.
 */
export function addRunResults(input: ReportInput, r: RunResults, dir: string, shownPath: string): void {
  const run = input.runs.length;
  const pub = (s: string) => publishable(s, dir);
  const ds = r.dataset.name;
  input.runs.push({
    label: basename(dir),
    title: pub(r.title),
    kind: 'run',
    path: shownPath,
    meta: [
      { key: 'tool', value: `${r.tool.name} ${r.tool.version}` },
      { key: 'machine', value: `${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}, provider ${r.machine.provider}` },
      { key: 'created', value: r.createdAt },
      { key: `model ${r.model.id}`, value: `${r.model.description} (${r.model.kind}, ${r.model.sites} sites, ${r.model.neurons} neurons)` },
      { key: `dataset ${ds}`, value: `${r.dataset.description} (${r.dataset.items} items; ${r.dataset.evalItems} evaluated)` },
      ...(r.kSearch
        ? [
            {
              key: 'k search',
              value: `k = ${r.kSearch.best} chosen on the dev split (${r.kSearch.objective} = ${r.kSearch.bestValue.toFixed(4)}, ${r.kSearch.evaluated.length} k evaluated)`,
            },
          ]
        : []),
      ...r.notes.map((n, i) => ({ key: `note ${i + 1}`, value: n })),
    ].map(({ key, value }) => ({ key: pub(key), value: pub(value) })),
    config: Object.entries(publishableValue(r.config, dir) as Record<string, unknown>).map(([key, value]) => ({ key, value: show(value) })),
    timings: secs(r.timings),
  });
  if (!input.datasets.has(ds)) input.datasets.set(ds, { kind: 'run', role: 'bias', metrics: r.metricInfo as MetricDef[] });
  for (const p of r.sweep) {
    // A run labels ablations by their variant name in place of the method.
    const known = KNOWN_METHODS.has(p.method);
    const method = known ? p.method : 'crispr';
    const variant = known ? (p.method === 'crispr' ? 'default' : '') : p.method;
    const ranked = method === 'crispr';
    const cell: ViewCell = {
      run,
      model: r.model.id,
      dataset: ds,
      role: 'bias',
      method,
      variant,
      rankedOn: ranked ? ds : null,
      k: p.k,
      kAuto: ranked && variant === 'default' && r.kSearch?.best === p.k,
      instruction: '*',
      instructionUse: 'pooled',
      n: r.dataset.evalItems,
      metrics: p.metrics,
      delta: p.delta ?? null,
    };
    if (p.acrossInstructions) cell.across = Object.fromEntries(Object.entries(p.acrossInstructions).map(([k, a]) => [k, { mean: a.mean, sd: a.sd }]));
    input.cells.push(cell);
  }
  if (r.topNeurons.length) input.rankings.push({ run, model: r.model.id, rankedOn: ds, variant: 'default', neurons: r.topNeurons });
}

function relPath(from: string, to: string): string {
  const r = relative(from, to).split(sep).join('/');
  return r === '' ? '.' : r;
}

/**
 * Loads every input. An input is a sweep folder (has manifest.json), a run folder (has
 * results.json) or a results.json file. `outDir` is where the report goes (paths are shown
 * relative to it).
 */
export function emptyInput(): ReportInput {
  return { runs: [], cells: [], datasets: new Map(), rankings: [] };
}

export function loadInputs(paths: string[], outDir: string): ReportInput {
  const input = emptyInput();
  const out = resolve(outDir);
  for (const p of paths) {
    const abs = resolve(p);
    if (!existsSync(abs)) throw new Error(`${p} does not exist`);
    if (statSync(abs).isDirectory()) {
      if (existsSync(join(abs, 'manifest.json'))) addSweep(input, abs, out);
      else if (existsSync(join(abs, 'results.json'))) addRun(input, join(abs, 'results.json'), out);
      else throw new Error(`${p}: neither a sweep results folder (manifest.json) nor a run folder (results.json)`);
    } else addRun(input, abs, out);
  }
  // Two inputs in folders of the same name are told apart by their paths.
  for (const r of input.runs) if (input.runs.filter((x) => x.label === r.label).length > 1) r.label = r.path;
  return input;
}
