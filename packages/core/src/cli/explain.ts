/** `crispr explain`: the attribution of one prompt/target pair, top neurons and full JSON. */
import { UsageError, choiceOption, consoleIO, intOption, jsonOutput, parseCommandLine, type CliCommand, type CliIO } from '../types/cli.js';
import { loadModelFolder } from '../models/folder.js';
import { attributionExample, attributionModel } from './folder.js';
import type { ExecutionProvider } from '../runtime/session.js';
import { Attributor } from './run.js';
import type { AttributionObjective, AttributionResult, TokenReduction } from './types.js';

const USAGE = `usage: crispr explain --model <dir> (--prompt <text> | --prompt-ids <ids>) (--target <text> | --target-ids <ids>) [options]

Attribute log P(target | prompt) (or P) to every neuron: for each site, the token reduction of
activation x gradient, computed as one forward+backward onnxruntime graph. Prints the objective
and the top neurons; --json writes every unit of every site.

options:
  --model <dir>          model folder (ONNX layout; see crispr sites)
  --variant <name>       transformers.js variant of the ONNX files (fp16, ...; default fp32)
  --prompt <text>        prompt text (tokenised as the scorer does: special tokens added)
  --prompt-ids <ids>     comma-separated prompt token ids, used as given
  --target <text>        target continuation text
  --target-ids <ids>     comma-separated target token ids, used as given
  --objective <o>        logprob (default) | prob
  --reduce <r>           max (default) | mean | sum, over the site's valid tokens
  --kinds <k>            all (default) | ffn | comma-separated site kinds (e.g. ffn_up,attn_v)
  --top <n>              neurons to print (default 20)
  --json <file|->        write { objective, logprob, sites: [ { name, side, width, values } ] };
                         - writes the JSON alone to stdout (the table goes to stderr)
  --provider <p>         cpu (default) | cuda | webgpu`;

function ids(s: string, flag: string): number[] {
  const out = s.split(',').map((x) => x.trim()).filter((x) => x.length > 0).map(Number);
  if (!out.length || out.some((x) => !Number.isInteger(x) || x < 0)) throw new UsageError(`${flag} must be comma-separated non-negative integers, got '${s}'`);
  return out;
}

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
  if (!Number.isFinite(res.logprob[row]!)) throw new Error(`log P(target) is ${res.logprob[row]}: the model's forward pass produced a non-finite number (run crispr inspect on the model)`);
  if (!Number.isFinite(res.objective[row]!)) throw new Error(`the objective is ${res.objective[row]}`);
  for (const s of res.sites) {
    const v = s.values[row]!;
    for (let u = 0; u < v.length; u++) if (!Number.isFinite(v[u]!)) throw new Error(`attribution of site ${s.name} unit ${u} is ${v[u]}`);
  }
}

export const explainCommand: CliCommand = {
  name: 'explain',
  summary: 'attribute a target\'s probability to every neuron (activation x gradient)',
  usage: USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values } = parseCommandLine(
      argv,
      {
        model: { type: 'string' },
        variant: { type: 'string' },
        prompt: { type: 'string' },
        'prompt-ids': { type: 'string' },
        target: { type: 'string' },
        'target-ids': { type: 'string' },
        objective: { type: 'string' },
        reduce: { type: 'string' },
        kinds: { type: 'string' },
        top: { type: 'string' },
        json: { type: 'string' },
        provider: { type: 'string' },
      },
      USAGE,
    );
    if (!values.model) throw new UsageError(`--model is required\n\n${USAGE}`);
    if ((values.prompt === undefined) === (values['prompt-ids'] === undefined)) throw new UsageError('give exactly one of --prompt and --prompt-ids');
    if ((values.target === undefined) === (values['target-ids'] === undefined)) throw new UsageError('give exactly one of --target and --target-ids');
    const objective = choiceOption<AttributionObjective>(values.objective, ['logprob', 'prob'], '--objective', 'logprob');
    const reduce = choiceOption<TokenReduction>(values.reduce, ['max', 'mean', 'sum'], '--reduce', 'max');
    const provider = choiceOption<ExecutionProvider>(values.provider, ['cpu', 'cuda', 'webgpu'], '--provider', 'cpu');
    const top = intOption(values.top, 'top', 20, 0);
    const json = jsonOutput(io, values.json);
    io = json.io;
    const kinds = values.kinds === undefined || values.kinds === 'all' ? 'all' : values.kinds === 'ffn' ? 'ffn' : values.kinds.split(',').map((k) => k.trim());

    const folder = await loadModelFolder(values.model, { tokenizer: values.prompt !== undefined || values.target !== undefined, ...(values.variant ? { variant: values.variant } : {}) });
    const prompt = values['prompt-ids'] !== undefined ? ids(values['prompt-ids'], '--prompt-ids') : values.prompt!;
    const target = values['target-ids'] !== undefined ? ids(values['target-ids'], '--target-ids') : values.target!;
    const example = attributionExample(folder, prompt, target);
    const attributor = new Attributor(
      attributionModel(folder),
      { objective, reduce, kinds, maxBatch: 1, session: { provider } },
    );
    let res: AttributionResult;
    try {
      res = await attributor.run([example]);
    } finally {
      await attributor.close();
    }
    checkFiniteAttribution(res);
    io.out(`model      ${values.model} (${folder.kind}, ${res.sites.length} sites, ${res.sites.reduce((a, s) => a + s.width, 0)} neurons)`);
    io.out(`prompt     ${example.promptIds.length} tokens: [${example.promptIds.join(', ')}]`);
    io.out(`target     ${example.targetIds.length} tokens: [${example.targetIds.join(', ')}]`);
    io.out(`logprob    ${res.logprob[0]!.toFixed(6)}   (P = ${Math.exp(res.logprob[0]!).toExponential(4)})`);
    io.out(`objective  ${objective} = ${res.objective[0]!.toPrecision(7)}, reduction ${reduce}`);
    if (top > 0) {
      io.out('');
      io.out(`top ${top} neurons by attribution:`);
      const rows = topNeurons(res, top);
      const w = Math.max(4, ...rows.map((r) => r.site.length));
      io.out(`${'rank'.padStart(4)}  ${'site'.padEnd(w)}  ${'unit'.padStart(5)}  ${'layer'.padStart(5)}  ${'kind'.padEnd(9)}  value`);
      rows.forEach((r, i) => io.out(`${String(i + 1).padStart(4)}  ${r.site.padEnd(w)}  ${String(r.unit).padStart(5)}  ${String(r.layer).padStart(5)}  ${r.kind.padEnd(9)}  ${r.value.toPrecision(6)}`));
    }
    if (values.json) {
      json.write({
        objective: res.objective[0]!,
        logprob: res.logprob[0]!,
        sites: res.sites.map((s) => ({ name: s.name, side: s.side, width: s.width, layer: s.layer, kind: s.kind, values: Array.from(s.values[0]!) })),
        model: values.model,
        objectiveKind: objective,
        reduce,
        promptIds: example.promptIds,
        targetIds: example.targetIds,
      }, { pretty: false });
    }
    return 0;
  },
};
