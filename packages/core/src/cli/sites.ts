import { UserError, consoleIO, defineCommand, optionSpecs, parseCommandLine, type CliCommand, type CliIO } from '../types/cli.js';
import { loadModelFolder } from '../models/folder.js';
import { countNeurons, SiteDetectionError, type NeuronSite } from '../models/sites.js';
import { requiredPath } from '../types/cli-options.js';
import { formatTable, type Column } from '../types/cli-table.js';

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

/** The sites table: one row per site plus totals by kind and side; `node` adds the node each site was found at. */
export function formatSitesTable(sites: readonly NeuronSite[], node?: (s: NeuronSite) => string): string[] {
  const columns: Column<NeuronSite>[] = [
    { header: 'name', value: (s) => s.name },
    { header: 'kind', value: (s) => s.kind },
    { header: 'layer', value: (s) => String(s.layer), align: 'right' },
    { header: 'side', value: (s) => s.side },
    { header: 'width', value: (s) => String(s.width), align: 'right' },
    ...(node ? [{ header: 'node in the file', value: node }] : []),
  ];
  const out = formatTable(sites, columns);
  const byKind = new Map<string, { sites: number; neurons: number }>();
  for (const s of sites) {
    const e = byKind.get(s.kind) ?? { sites: 0, neurons: 0 };
    e.sites++;
    e.neurons += s.width;
    byKind.set(s.kind, e);
  }
  const input = sites.filter((s) => s.side === 'input');
  out.push('');
  out.push(
    `total: ${sites.length} sites, ${countNeurons(sites)} neurons (input side ${countNeurons(input)}, target side ${countNeurons(sites) - countNeurons(input)})`,
  );
  out.push(`by kind: ${[...byKind].map(([k, e]) => `${k} ${e.sites} sites / ${e.neurons} neurons`).join(', ')}`);
  return out;
}

export const sitesCommand: CliCommand = defineCommand({
  name: 'sites',
  summary: 'list the neuron sites (linear layers) of a model folder',
  usage: SITES_USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values } = parseCommandLine(argv, optionSpecs(['model', 'variant'], ['json', 'lenient']), SITES_USAGE);
    const dir = requiredPath('model', values.model, '<dir>', SITES_USAGE);
    let folder: Awaited<ReturnType<typeof loadModelFolder>>;
    try {
      folder = await loadModelFolder(dir, { tokenizer: false, strictSites: !values.lenient, ...(values.variant ? { variant: values.variant } : {}) });
    } catch (e) {
      if (e instanceof SiteDetectionError) throw new UserError(`${e.message.replace('Pass strict: false', 'Pass --lenient')}`);
      throw new UserError((e as Error).message);
    }
    const sites = folder.sites;
    if (values.json) {
      const totals = {
        sites: sites.length,
        neurons: countNeurons(sites),
        inputSide: countNeurons(sites.filter((s) => s.side === 'input')),
        targetSide: countNeurons(sites.filter((s) => s.side === 'target')),
      };
      io.out(JSON.stringify({ model: folder.dir, kind: folder.kind, sites, totals }, null, 2));
    } else {
      io.out(`${folder.dir} (${folder.kind}; ${folder.files.join(', ')})`);
      for (const l of formatSitesTable(sites)) io.out(l);
    }
    return 0;
  },
});
