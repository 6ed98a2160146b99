import { consoleIO, defineCommand, optionSpecs, parseCommandLine, type CliCommand, type CliIO } from '../types/cli.js';
import { inspectFolder, type InspectReport } from '../models/inspect.js';
import { countNeurons, type NotTaken } from '../models/sites.js';
import { requiredPath } from '../types/cli-options.js';
import { formatSitesTable } from './sites.js';

const INSPECT_USAGE = `usage: crispr inspect --model <dir> [--variant <name>] [--json]

What crispr makes of a model folder, for when a model misbehaves: the layout (seq2seq or
decoder-only), which ONNX files were chosen and why, the variant and the other variants present,
the neuron sites found in each file with their side and width, and the matrix products that were
not taken as sites, with the reason. Nothing is computed with the model.

options:
  --model <dir>     model folder (config.json, tokenizer.json, onnx/...)
  --variant <name>  transformers.js variant of the ONNX files (fp16, quantized, ...; default fp32)
  --json            print the same as one JSON document`;

/** Not-taken matrix products grouped by reason, a few node names each. */
function groupNotTaken(list: readonly NotTaken[], show = 4): string[] {
  const by = new Map<string, string[]>();
  for (const n of list) {
    let l = by.get(n.why);
    if (!l) by.set(n.why, (l = []));
    l.push(n.node);
  }
  return [...by].map(
    ([why, nodes]) => `${nodes.length} x ${why}: ${nodes.slice(0, show).join(', ')}${nodes.length > show ? `, ... (${nodes.length - show} more)` : ''}`,
  );
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
    out.push(
      `${f.file} (role ${f.role}${f.upcast ? `; ${f.upcast} half-precision tensors and casts widened to float32` : ''}): ${f.sites.length} sites, ${countNeurons(f.sites)} neurons`,
    );
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

export const inspectCommand: CliCommand = defineCommand({
  name: 'inspect',
  summary: 'what crispr makes of a model folder: files chosen and why, sites per file, what was not taken',
  usage: INSPECT_USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values } = parseCommandLine(argv, optionSpecs(['model', 'variant'], ['json']), INSPECT_USAGE);
    const dir = requiredPath('model', values.model, '<dir>', INSPECT_USAGE);
    const report = await inspectFolder(dir, values.variant);
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else for (const line of formatInspect(report)) io.out(line);
    return report.error ? 1 : 0;
  },
});
