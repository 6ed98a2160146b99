/**
 * pnpm deps:check: the import graph of packages/ and apps/ (madge), checked for
 *  1. circular imports between files;
 *  2. back-edges between the folders of core (onnx, runtime, autodiff, models, ...) and between
 *     packages: each must form a DAG, so a lower layer never reaches into a higher one;
 *  3. DESIGN.md's "datasets, judges -> core types only": their value imports (type-only imports
 *     are free) may reach only core's ONNX-free part, `@crispr-bench/core/common` (types/, util/),
 *     so that loading a dataset or a judge never loads onnxruntime;
 *  4. no product source (packages' and apps' src/) imports the test models of @crispr-bench/testing.
 * Workspace packages are mapped to their sources so that edges between packages are followed too.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import madge from 'madge';

const root = join(import.meta.dirname, '..');
type Graph = Record<string, string[]>;

/** tsconfig `paths` from every workspace package's exports map ("." and subpaths). */
function workspacePaths(): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const dir of ['packages', 'apps']) {
    for (const name of readdirSync(join(root, dir))) {
      const pj = join(root, dir, name, 'package.json');
      if (!existsSync(pj)) continue;
      const pkg = JSON.parse(readFileSync(pj, 'utf8')) as { name: string; exports?: Record<string, string> };
      for (const [sub, target] of Object.entries(pkg.exports ?? {})) {
        paths[sub === '.' ? pkg.name : `${pkg.name}/${sub.replace(/^\.\//, '')}`] = [join(dir, name, target)];
      }
    }
  }
  return paths;
}

async function importGraph(skipTypeImports: boolean): Promise<{ graph: Graph; circular: string[][]; skipped: string[] }> {
  const res = await madge(['packages', 'apps'], {
    baseDir: root,
    fileExtensions: ['ts'],
    excludeRegExp: [/node_modules/, /\.d\.ts$/],
    tsConfig: { compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', baseUrl: root, paths: workspacePaths() } },
    detectiveOptions: { ts: { skipTypeImports }, tsx: { skipTypeImports } },
  });
  return { graph: res.obj(), circular: res.circular(), skipped: res.warnings().skipped };
}

/** The layer a file belongs to: a top-level folder (or entry file) of core's src, else its package. */
function unitOf(file: string): string {
  const core = /^packages\/core\/src\/([^/]+?)(?:\.ts$|\/)/.exec(file);
  if (core) return `core/${core[1]}`;
  const m = /^(packages|apps)\/([^/]+)\/([^/]+)/.exec(file);
  if (m) return m[3] === 'src' ? m[2]! : `${m[2]}/${m[3]}`;
  return file;
}

/** Strongly connected components with more than one member (Tarjan). */
function cycles(graph: Map<string, Set<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

const problems: string[] = [];
const all = await importGraph(false);

// An import madge could not resolve is an edge the checks below would silently miss.
for (const s of all.skipped) problems.push(`unresolved import: ${s}`);
for (const c of all.circular) problems.push(`circular import: ${c.join(' -> ')} -> ${c[0]}`);

// Entry files (core's index.ts and common.ts) re-export every layer: they are the top, not a layer.
const entries = new Set(['core/index', 'core/common']);
const units = new Map<string, Set<string>>();
const witness = new Map<string, string>();
for (const [from, tos] of Object.entries(all.graph)) {
  const a = unitOf(from);
  if (!units.has(a)) units.set(a, new Set());
  for (const to of tos) {
    const b = unitOf(to);
    if (a === b || entries.has(b)) continue;
    units.get(a)!.add(b);
    if (!witness.has(`${a}>${b}`)) witness.set(`${a}>${b}`, `${from} -> ${to}`);
  }
}
for (const scc of cycles(units)) {
  const edges = [...witness].filter(([k]) => scc.includes(k.split('>')[0]!) && scc.includes(k.split('>')[1]!)).map(([, w]) => w);
  problems.push(`layers import each other: ${scc.join(', ')}\n    ${edges.join('\n    ')}`);
}

// Value imports of datasets and judges into core.
const values = await importGraph(true);
const coreAllowed = (f: string) => f === 'packages/core/src/common.ts' || /^packages\/core\/src\/(types|util)\//.test(f);
for (const [from, tos] of Object.entries(values.graph)) {
  const inDatasetsOrJudges = /^packages\/(datasets|judges)\//.test(from);
  const inCoreCommon = coreAllowed(from);
  for (const to of tos) {
    if (!to.startsWith('packages/core/')) continue;
    if ((inDatasetsOrJudges || inCoreCommon) && !coreAllowed(to)) {
      problems.push(
        `${from} imports a value from ${to}: datasets and judges take only types from core, values only from @crispr-bench/core/common (types/, util/)`,
      );
    }
  }
}

// Test models are for tests, benchmarks and scripts: no product source imports them.
for (const [from, tos] of Object.entries(all.graph)) {
  if (!/^(packages|apps)\/(?!testing\/)[^/]+\/src\//.test(from)) continue;
  for (const to of tos)
    if (to.startsWith('packages/testing/')) problems.push(`${from} imports ${to}: @crispr-bench/testing is for tests and scripts, not the product`);
}

if (problems.length) {
  console.error(`deps:check: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(
  `deps:check: ${Object.keys(all.graph).length} files, no circular imports, no back-edges between layers, datasets and judges use core's types and common part only, no product source imports @crispr-bench/testing`,
);
