/** `crispr sites` and `crispr prune`. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { existsSync } from 'node:fs';
import { UserError, consoleIO, type CliCommand, type CliIO } from '../types/cli.js';
import { loadModelFolder } from './folder.js';
import { countNeurons, SiteDetectionError, type NeuronSite } from './sites.js';
import { pruneFolder, readRanking } from './prune.js';

const SITES_USAGE = `usage: crispr sites --model <dir> [--json] [--lenient]

List the neuron sites of a model folder: every linear layer except the LM head and embeddings,
with its kind (attn_q/k/v/o, cross_q/k/v/o, ffn_in/gate/up/down, attn_qkv for fused
projections), layer, side (the token axis its attributions reduce over: input or target) and
width (number of neurons).

options:
  --model <dir>  model folder (config.json, tokenizer.json, onnx/...)
  --json         print a JSON document { model, kind, sites, totals } instead of a table
  --lenient      skip linear layers whose names match no known module pattern (default: error)`;

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

function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  } catch (e) {
    throw new UserError(`${(e as Error).message}\n\n${usage}`);
  }
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

/** The sites table: one row per site plus totals by kind and side. */
export function formatSitesTable(sites: readonly NeuronSite[]): string[] {
  const head = ['name', 'kind', 'layer', 'side', 'width'];
  const rows = sites.map((s) => [s.name, s.kind, String(s.layer), s.side, String(s.width)]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => pad(c, w[i]!, i >= 2 && i !== 3)).join('  ').trimEnd();
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
  out.push('by kind: ' + [...byKind].map(([k, e]) => `${k} ${e.sites} sites / ${e.neurons} neurons`).join(', '));
  return out;
}

export const sitesCommand: CliCommand = {
  name: 'sites',
  summary: 'list the neuron sites (linear layers) of a model folder',
  usage: SITES_USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values } = parse(argv, { model: { type: 'string', short: 'm' }, json: { type: 'boolean', default: false }, lenient: { type: 'boolean', default: false } }, SITES_USAGE);
    const dir = values.model as string | undefined;
    if (!dir) throw new UserError(`--model <dir> is required\n\n${SITES_USAGE}`);
    if (!existsSync(dir)) throw new UserError(`${dir}: no such folder`);
    let folder;
    try {
      folder = await loadModelFolder(dir, { tokenizer: false, strictSites: !values.lenient });
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
    for (const need of ['model', 'neurons', 'k', 'out'] as const) if (!values[need]) throw new UserError(`--${need} is required\n\n${PRUNE_USAGE}`);
    const k = Number(values.k);
    if (!/^\d+$/.test(String(values.k)) || !Number.isSafeInteger(k)) throw new UserError(`--k must be a non-negative integer, got '${values.k}'`);
    const model = values.model as string;
    const rankingPath = values.neurons as string;
    if (!existsSync(model)) throw new UserError(`${model}: no such folder`);
    if (!existsSync(rankingPath)) throw new UserError(`${rankingPath}: no such file`);
    let result;
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
