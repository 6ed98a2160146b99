/** `crispr sites`, `crispr inspect` and `crispr prune`. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError, UserError, consoleIO, parseCommandLine, type CliCommand, type CliIO } from '../types/cli.js';
import { analyseFile, loadModelFolder, type FileSites } from './folder.js';
import { detectLayout, DEFAULT_VARIANT, readJsonObject, type Layout } from './layout.js';
import { countNeurons, SiteDetectionError, type NeuronSite, type NotTaken } from './sites.js';
import { pruneFolder, readRanking } from './prune.js';

const SITES_USAGE = `usage: crispr sites --model <dir> [--variant <name>] [--json] [--lenient]

List the neuron sites of a model folder: every linear layer except the LM head and embeddings,
with its kind (attn_q/k/v/o, cross_q/k/v/o, ffn_in/gate/up/down, attn_qkv for fused
projections), layer, side (the token axis its attributions reduce over: input or target) and
width (number of neurons).

options:
  --model <dir>     model folder (config.json, tokenizer.json, onnx/...)
  --variant <name>  transformers.js variant of the ONNX files (fp16, quantized, ...; default fp32)
  --json            print a JSON document { model, kind, sites, totals } instead of a table
  --lenient         skip linear layers whose names match no known module pattern (default: error)

Run crispr inspect for why these files and sites were chosen.`;

const INSPECT_USAGE = `usage: crispr inspect --model <dir> [--variant <name>] [--json]

What crispr makes of a model folder, for when a model misbehaves: the layout (seq2seq or
decoder-only), which ONNX files were chosen and why, the variant and the other variants present,
the neuron sites found in each file with their side and width, and the matrix products that were
not taken as sites, with the reason. Nothing is computed with the model.

options:
  --model <dir>     model folder (config.json, tokenizer.json, onnx/...)
  --variant <name>  transformers.js variant of the ONNX files (fp16, quantized, ...; default fp32)
  --json            print the same as one JSON document`;

const PRUNE_USAGE = `usage: crispr prune --model <dir> --neurons <ranking.json> --k <n> --out <dir>

Write a copy of the model folder with the top k neurons of the ranking zeroed (their weight
columns and biases), loadable by @huggingface/transformers like the source.

ranking.json: { "neurons": [ { "site": "<site name>", "unit": 12, "score": 0.3 }, ... ] },
best first (a bare array of such objects is accepted too).

options:
  --model <dir>         source model folder
  --neurons <file>      ranking file
  --k <n>               number of neurons to prune (the first n of the ranking)
  --out <dir>           output folder (must not be the source)`;

const parse = parseCommandLine;

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/** The sites table: one row per site plus totals by kind and side. */
export function formatSitesTable(sites: readonly NeuronSite[], node?: (s: NeuronSite) => string): string[] {
  const head = ['name', 'kind', 'layer', 'side', 'width', ...(node ? ['node in the file'] : [])];
  const rows = sites.map((s) => [s.name, s.kind, String(s.layer), s.side, String(s.width), ...(node ? [node(s)] : [])]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => pad(c, w[i]!, i === 2 || i === 4)).join('  ').trimEnd();
  const out = [line(head), ...rows.map(line)];
  const byKind = new Map<string, { sites: number; neurons: number }>();
  for (const s of sites) {
    const e = byKind.get(s.kind) ?? { sites: 0, neurons: 0 };
    e.sites++;
    e.neurons += s.width;
    byKind.set(s.kind, e);
  }
  const input = sites.filter((s) => s.side === 'input');
  out.push('');
  out.push(`total: ${sites.length} sites, ${countNeurons(sites)} neurons (input side ${countNeurons(input)}, target side ${countNeurons(sites) - countNeurons(input)})`);
  out.push(`by kind: ${[...byKind].map(([k, e]) => `${k} ${e.sites} sites / ${e.neurons} neurons`).join(', ')}`);
  return out;
}

export const sitesCommand: CliCommand = {
  name: 'sites',
  summary: 'list the neuron sites (linear layers) of a model folder',
  usage: SITES_USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values } = parse(argv, { model: { type: 'string', short: 'm' }, variant: { type: 'string' }, json: { type: 'boolean', default: false }, lenient: { type: 'boolean', default: false } }, SITES_USAGE);
    const dir = values.model as string | undefined;
    if (!dir) throw new UsageError(`--model <dir> is required\n\n${SITES_USAGE}`);
    if (!existsSync(dir)) throw new UserError(`${dir}: no such folder`);
    let folder: Awaited<ReturnType<typeof loadModelFolder>>;
    try {
      folder = await loadModelFolder(dir, { tokenizer: false, strictSites: !values.lenient, ...(values.variant ? { variant: values.variant as string } : {}) });
    } catch (e) {
      if (e instanceof SiteDetectionError) throw new UserError(`${e.message.replace('Pass strict: false', 'Pass --lenient')}`);
      throw new UserError((e as Error).message);
    }
    const sites = folder.sites;
    if (values.json) {
      const totals = { sites: sites.length, neurons: countNeurons(sites), inputSide: countNeurons(sites.filter((s) => s.side === 'input')), targetSide: countNeurons(sites.filter((s) => s.side === 'target')) };
      io.out(JSON.stringify({ model: folder.dir, kind: folder.kind, sites, totals }, null, 2));
    } else {
      io.out(`${folder.dir} (${folder.kind}; ${folder.files.join(', ')})`);
      for (const l of formatSitesTable(sites)) io.out(l);
    }
    return 0;
  },
};

/** Not-taken matrix products grouped by reason, a few node names each. */
function groupNotTaken(list: readonly NotTaken[], show = 4): string[] {
  const by = new Map<string, string[]>();
  for (const n of list) {
    let l = by.get(n.why);
    if (!l) by.set(n.why, (l = []));
    l.push(n.node);
  }
  return [...by].map(([why, nodes]) => `${nodes.length} x ${why}: ${nodes.slice(0, show).join(', ')}${nodes.length > show ? `, ... (${nodes.length - show} more)` : ''}`);
}

export interface InspectReport {
  model: string;
  layout: Layout | null;
  /** Sites per analysed file; empty when the folder could not be loaded. */
  files: FileSites[];
  sites: { total: number; neurons: number; inputSide: number; targetSide: number } | null;
  tokenizer: string;
  /** Why the folder cannot be used as it is, when it cannot. */
  error?: string;
}

/** Everything `crispr inspect` reports; a folder that fails to load still gets its layout, the sites of each file that reads, and the error. */
export async function inspectFolder(dir: string, variant?: string): Promise<InspectReport> {
  const root = resolve(dir);
  let layout: Layout;
  try {
    layout = detectLayout(root, variant ?? DEFAULT_VARIANT);
  } catch (e) {
    return { model: dir, layout: null, files: [], sites: null, tokenizer: 'not checked', error: (e as Error).message };
  }
  const hasTokenizer = existsSync(join(root, 'tokenizer.json'));
  let tokenizer = hasTokenizer ? 'not checked' : 'tokenizer.json is missing (sites and attribution by ids still work)';
  let files: FileSites[] = [];
  let sites: InspectReport['sites'] = null;
  const problems: string[] = [];
  try {
    const folder = await loadModelFolder(root, { tokenizer: hasTokenizer, strictSites: false, ...(variant ? { variant } : {}) });
    files = folder.fileSites;
    const s = folder.sites;
    sites = { total: s.length, neurons: countNeurons(s), inputSide: countNeurons(s.filter((x) => x.side === 'input')), targetSide: countNeurons(s.filter((x) => x.side === 'target')) };
    if (hasTokenizer) tokenizer = "tokenizer.json loads and its ids fit the model's vocabulary";
  } catch (e) {
    problems.push((e as Error).message);
    // The folder does not load: read each file on its own, so the report still shows what was found where.
    const config = readJsonObject(join(root, 'config.json'));
    for (const f of layout.files.filter((x) => x.analysed)) {
      try {
        files.push((await analyseFile(root, f.file, f.role, layout, config)).found);
      } catch (err) {
        if ((err as Error).message !== (e as Error).message) problems.push((err as Error).message);
      }
    }
  }
  const unrecognised = files.reduce((a, f) => a + f.unrecognised.length, 0);
  if (unrecognised) problems.push(`${unrecognised} linear layer(s) have no recoverable module name; crispr sites, explain and run refuse the folder until they do (crispr sites --lenient skips them)`);
  return { model: dir, layout, files, sites, tokenizer, ...(problems.length ? { error: problems.join('\n') } : {}) };
}

export function formatInspect(r: InspectReport): string[] {
  const out: string[] = [];
  const l = r.layout;
  out.push(`model     ${r.model}`);
  if (l) {
    out.push(`layout    ${l.kind}, variant ${l.variant} (variants present: ${l.variants.join(', ')})`);
    out.push('files');
    for (const reason of l.reasons) out.push(`  ${reason}`);
    if (l.ignored.length) {
      out.push('not used');
      for (const i of l.ignored) out.push(`  ${i.file}: ${i.why}`);
    }
  }
  out.push(`tokenizer ${r.tokenizer}`);
  for (const f of r.files) {
    out.push('');
    out.push(`${f.file} (role ${f.role}${f.upcast ? `; ${f.upcast} half-precision tensors and casts widened to float32` : ''}): ${f.sites.length} sites, ${countNeurons(f.sites)} neurons`);
    for (const line of formatSitesTable(f.sites, (s) => f.sourceNodes[s.name] ?? '').slice(0, f.sites.length + 1)) out.push(`  ${line}`);
    if (f.recovered.length) {
      out.push(`  ${f.recovered.length} site name(s) recovered from the graph's structure and config.json (the nodes and weights carry no module names):`);
      for (const r of f.recovered) out.push(`    ${r}`);
    }
    if (f.notTaken.length) {
      out.push('  matrix products not taken as sites:');
      for (const line of groupNotTaken(f.notTaken)) out.push(`    ${line}`);
    }
  }
  if (r.sites) out.push('', `total: ${r.sites.total} sites, ${r.sites.neurons} neurons (input side ${r.sites.inputSide}, target side ${r.sites.targetSide})`);
  if (r.error) out.push('', `problem: ${r.error}`);
  return out;
}

export const inspectCommand: CliCommand = {
  name: 'inspect',
  summary: 'what crispr makes of a model folder: files chosen and why, sites per file, what was not taken',
  usage: INSPECT_USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values } = parse(argv, { model: { type: 'string', short: 'm' }, variant: { type: 'string' }, json: { type: 'boolean', default: false } }, INSPECT_USAGE);
    const dir = values.model as string | undefined;
    if (!dir) throw new UsageError(`--model <dir> is required\n\n${INSPECT_USAGE}`);
    if (!existsSync(dir)) throw new UserError(`${dir}: no such folder`);
    const report = await inspectFolder(dir, values.variant as string | undefined);
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else for (const line of formatInspect(report)) io.out(line);
    return report.error ? 1 : 0;
  },
};

export const pruneCommand: CliCommand = {
  name: 'prune',
  summary: 'write a model folder with the top-k ranked neurons zeroed',
  usage: PRUNE_USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values } = parse(
      argv,
      { model: { type: 'string', short: 'm' }, neurons: { type: 'string' }, k: { type: 'string' }, out: { type: 'string', short: 'o' } },
      PRUNE_USAGE,
    );
    for (const need of ['model', 'neurons', 'k', 'out'] as const) if (!values[need]) throw new UsageError(`--${need} is required\n\n${PRUNE_USAGE}`);
    const k = Number(values.k);
    if (!/^\d+$/.test(String(values.k)) || !Number.isSafeInteger(k)) throw new UsageError(`--k must be a non-negative integer, got '${values.k}'`);
    const model = values.model as string;
    const rankingPath = values.neurons as string;
    if (!existsSync(model)) throw new UserError(`${model}: no such folder`);
    if (!existsSync(rankingPath)) throw new UserError(`${rankingPath}: no such file`);
    let result: Awaited<ReturnType<typeof pruneFolder>>;
    try {
      result = await pruneFolder(model, readRanking(rankingPath), k, values.out as string);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    const perSite = new Map<string, number>();
    for (const n of result.neurons) perSite.set(n.site, (perSite.get(n.site) ?? 0) + 1);
    io.out(`pruned ${result.neurons.length} neurons in ${perSite.size} sites -> ${result.outDir}`);
    io.out(`  wrote ${result.pruned.join(', ')}; copied ${result.copied.join(', ')}`);
    if (result.skipped.length) io.err(`  left out (weights this tool cannot prune): ${result.skipped.join(', ')}`);
    return 0;
  },
};
