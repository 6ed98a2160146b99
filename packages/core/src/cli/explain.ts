/** `crispr explain`: the attribution of one prompt/target pair, top neurons and full JSON. */
import { UsageError, consoleIO, defineCommand, jsonOutput, optionSpecs, parseCommandLine, type CliCommand, type CliIO } from '../types/cli.js';
import { loadModelFolder } from '../models/folder.js';
import { attributionExample, attributionModel } from '../attribution/folder.js';
import type { ExecutionProvider } from '../runtime/session.js';
import { Attributor } from '../attribution/run.js';
import { checkFiniteAttribution, topNeurons, type TopNeuron } from '../attribution/top.js';
import type { AttributionObjective, AttributionResult, TokenReduction } from '../attribution/types.js';
import { choiceOption, intListOption, intOption, kindsOption, requiredOption } from '../types/cli-options.js';
import { formatTable } from '../types/cli-table.js';

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

export const explainCommand: CliCommand = defineCommand({
  name: 'explain',
  summary: "attribute a target's probability to every neuron (activation x gradient)",
  usage: USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values } = parseCommandLine(
      argv,
      optionSpecs(['model', 'variant', 'prompt', 'prompt-ids', 'target', 'target-ids', 'objective', 'reduce', 'kinds', 'top', 'json', 'provider']),
      USAGE,
    );
    const modelDir = requiredOption('model', values.model, '<dir>', USAGE);
    if ((values.prompt === undefined) === (values['prompt-ids'] === undefined)) throw new UsageError('give exactly one of --prompt and --prompt-ids');
    if ((values.target === undefined) === (values['target-ids'] === undefined)) throw new UsageError('give exactly one of --target and --target-ids');
    const objective = choiceOption<AttributionObjective>('objective', values.objective, ['logprob', 'prob'], 'logprob');
    const reduce = choiceOption<TokenReduction>('reduce', values.reduce, ['max', 'mean', 'sum'], 'max');
    const provider = choiceOption<ExecutionProvider>('provider', values.provider, ['cpu', 'cuda', 'webgpu'], 'cpu');
    const top = intOption('top', values.top, { default: 20, min: 0 });
    const kinds = kindsOption('kinds', values.kinds);
    const promptIds = intListOption('prompt-ids', values['prompt-ids'], { min: 0 });
    const targetIds = intListOption('target-ids', values['target-ids'], { min: 0 });
    const json = jsonOutput(io, values.json);
    io = json.io;

    const folder = await loadModelFolder(modelDir, {
      tokenizer: values.prompt !== undefined || values.target !== undefined,
      ...(values.variant ? { variant: values.variant } : {}),
    });
    const prompt = promptIds ?? values.prompt!;
    const target = targetIds ?? values.target!;
    const example = attributionExample(folder, prompt, target);
    const attributor = new Attributor(attributionModel(folder), { objective, reduce, kinds, maxBatch: 1, session: { provider } });
    let res: AttributionResult;
    try {
      res = await attributor.run([example]);
    } finally {
      await attributor.close();
    }
    checkFiniteAttribution(res);
    io.out(`model      ${modelDir} (${folder.kind}, ${res.sites.length} sites, ${res.sites.reduce((a, s) => a + s.width, 0)} neurons)`);
    io.out(`prompt     ${example.promptIds.length} tokens: [${example.promptIds.join(', ')}]`);
    io.out(`target     ${example.targetIds.length} tokens: [${example.targetIds.join(', ')}]`);
    io.out(`logprob    ${res.logprob[0]!.toFixed(6)}   (P = ${Math.exp(res.logprob[0]!).toExponential(4)})`);
    io.out(`objective  ${objective} = ${res.objective[0]!.toPrecision(7)}, reduction ${reduce}`);
    if (top > 0) {
      io.out('');
      io.out(`top ${top} neurons by attribution:`);
      const lines = formatTable<TopNeuron>(topNeurons(res, top), [
        { header: 'rank', value: (_, i) => String(i + 1), align: 'right' },
        { header: 'site', value: (r) => r.site },
        { header: 'unit', value: (r) => String(r.unit), align: 'right', minWidth: 5 },
        { header: 'layer', value: (r) => String(r.layer), align: 'right' },
        { header: 'kind', value: (r) => r.kind, minWidth: 9 },
        { header: 'value', value: (r) => r.value.toPrecision(6) },
      ]);
      for (const l of lines) io.out(l);
    }
    if (values.json) {
      json.write(
        {
          objective: res.objective[0]!,
          logprob: res.logprob[0]!,
          sites: res.sites.map((s) => ({ name: s.name, side: s.side, width: s.width, layer: s.layer, kind: s.kind, values: Array.from(s.values[0]!) })),
          model: modelDir,
          objectiveKind: objective,
          reduce,
          promptIds: example.promptIds,
          targetIds: example.targetIds,
        },
        { pretty: false },
      );
    }
    return 0;
  },
});
