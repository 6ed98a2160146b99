/**
 * `crispr run`: the main job. CRISPR end to end on one model and one dataset: score, attribute,
 * rank, prune the top k through masks, evaluate the sweep with the random-pruning control, and
 * write results.json (render it with `crispr report <out>`). Interrupted runs resume from the
 * stages already written in --out.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_ATTRIBUTION_BATCH, loadModelFolder, safeName } from '@crispr-bench/core';
import {
  UserError,
  choiceOption,
  consoleIO,
  defineCommand,
  formatTable,
  intListOption,
  intOption,
  jsonOutput,
  kindsOption,
  listOption,
  numberOption,
  optionSpecs,
  parseCommandLine,
  type CliCommand,
  type CliIO,
} from '@crispr-bench/core/cli';
import { splitDevTest } from '@crispr-bench/datasets';
import { makeDefaultModel } from '../../default-model/index.js';
import { folderAccess } from '../../pipeline/folder-access.js';
import { scoreWorkersFor } from '../../pipeline/score-pool.js';
import { hashFiles, modelFiles } from '../../pipeline/fingerprint.js';
import { contextLimit } from '../../pipeline/lengths.js';
import { lockRunFolder } from '../../pipeline/lock.js';
import type { ModelAccess } from '../../pipeline/model-access.js';
import { runPipeline } from '../../pipeline/run.js';
import { RunStore } from '../../pipeline/store.js';
import { progressReporter } from '../progress.js';
import { loadTask } from '../../pipeline/load-task.js';
import { ORGANISM_MODEL_DIR } from '../../organism/task.js';

const USAGE = `usage: crispr run [options] --out <dir>

Run CRISPR end to end and write <out>/results.json (then: crispr report <out>).
With no --model and --data it runs on the embedded default: a small Llama-style model that the
project generates (no download) and the pronoun bias set.

model and data:
  --model <dir|default|organism>
                           model folder (see crispr inspect), default: the embedded default model;
                           organism: the trained BBQ model organism (crispr organism train)
  --variant <name>         transformers.js variant of the ONNX files (fp16, ...; default fp32)
  --data <spec>            pronoun (default) | <BBQ .jsonl file or folder> | mc:<generic MC .jsonl>
                           | organism (the organism's held-out BBQ templates and retention task;
                           attribution under its training instructions, evaluation under its
                           held-out ones; --instructions and --template do not apply)
  --categories <a,b>       BBQ categories to keep (folder input)
  --max-items <n>          use at most n items (seeded sample)
  --instructions <spec>    paper (default for BBQ) | own | <file>
  --template <name|hbs>    prompt template: default (the paper's) | lettered | <handlebars>
  --dev-fraction <f>       share of items for attribution (dev); the rest is evaluated (default 0.5)
  --truncate <t>           a prompt + answer longer than the model's context length (config.json
                           max_position_embeddings / n_positions): error (default: refuse, naming
                           the items) | left (cut the prompt's start) | right (cut its end)

attribution (defaults follow the paper):
  --instances <n>          instances per trial (default 20)
  --trials <n>             trials with distinct seeds (default 3)
  --objective <o>          logprob (default) | prob
  --reduce <r>             max (default) | mean
  --kinds <k>              all (default) | ffn | comma-separated site kinds
  --lambda <x>             weight of the skill term (default 1)
  --no-skill               do not subtract the gold answer's attribution
  --no-confusion           do not weight instances by the confusion probability

sweep and statistics:
  --k <list>               numbers of pruned neurons (default 0,1,2,4,8,16,32)
  --k-search <kmax>        also choose k on the dev split by golden-section search over [0, kmax]
                           (BBQ: dev accuracy; pronoun set: control accuracy - |preference|);
                           the chosen k joins the sweep and is marked in the report
  --no-random              skip the random-pruning control
  --bootstrap <n>          bootstrap resamples for intervals (default 1000)
  --seed <n>               seed of splits, samples and resampling (default 0)

execution:
  --batch <n>              largest attribution batch in rows; an item's biased and gold answers are two (default 16)
  --memory-mib <n>         memory budget of one attribution batch (default 2048)
  --provider <p>           cpu (default) | cuda | webgpu
  --out <dir>              run folder (default runs/<model>-<data>); locked while the run works
  --fresh                  discard the stages of an earlier run in --out
  --json <file|->          also write the results as JSON; - writes them alone to stdout
                           (the table and logs go to stderr)

An earlier run in --out is resumed: each stage's checkpoint is reused when everything it read is
the same (model file bytes, the rendered prompts, so data, instruction and template, the
settings, the upstream numbers), and recomputed otherwise; the run says which and why.
Exit status: 0 done, 1 failed, 2 usage error.`;

export const runCommand: CliCommand = defineCommand({
  name: 'run',
  summary: 'run CRISPR end to end (score, attribute, prune, evaluate) and write results.json',
  usage: USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const v = parseCommandLine(
      argv,
      optionSpecs(
        [
          'model',
          'variant',
          'data',
          'categories',
          'max-items',
          'instructions',
          'template',
          'dev-fraction',
          'instances',
          'trials',
          'objective',
          'reduce',
          'kinds',
          'lambda',
          'k',
          'k-search',
          'bootstrap',
          'seed',
          'batch',
          'memory-mib',
          'provider',
          'out',
          'truncate',
          'json',
        ],
        ['no-skill', 'no-confusion', 'no-random', 'fresh'],
      ),
      USAGE,
    ).values;
    const json = jsonOutput(io, v.json);
    io = json.io;
    const progress = progressReporter(io);
    // Every option is checked here, before the run folder is locked or anything is loaded.
    const seed = intOption('seed', v.seed, { default: 0, min: 0 });
    const objective = choiceOption('objective', v.objective, ['logprob', 'prob'], 'logprob');
    const reduce = choiceOption('reduce', v.reduce, ['max', 'mean'], 'max');
    const provider = choiceOption('provider', v.provider, ['cpu', 'cuda', 'webgpu'], 'cpu');
    const truncate = choiceOption('truncate', v.truncate, ['error', 'left', 'right'], 'error');
    const ks = intListOption('k', v.k, { default: [0, 1, 2, 4, 8, 16, 32], min: 0 });
    const lambda = numberOption('lambda', v.lambda, { default: 1, min: 0 });
    const devFraction = numberOption('dev-fraction', v['dev-fraction'], { default: 0.5, min: 0, max: 1, minExclusive: true, maxExclusive: true });
    const kinds = kindsOption('kinds', v.kinds);
    const categories = listOption('categories', v.categories);
    const maxItems = intOption('max-items', v['max-items'], { min: 1 });
    const instances = intOption('instances', v.instances, { default: 20, min: 1 });
    const trials = intOption('trials', v.trials, { default: 3, min: 1 });
    const kMax = intOption('k-search', v['k-search'], { min: 1 });
    const bootstrap = intOption('bootstrap', v.bootstrap, { default: 1000, min: 1 });
    const maxBatch = intOption('batch', v.batch, { default: DEFAULT_ATTRIBUTION_BATCH, min: 1 });
    const memoryLimitMiB = intOption('memory-mib', v['memory-mib'], { default: 2048, min: 1 });
    const dataSpec = v.data ?? 'pronoun';

    const modelSpec = v.model ?? 'default';
    if (modelSpec !== 'default' && modelSpec !== 'organism' && !existsSync(modelSpec)) throw new UserError(`--model: ${modelSpec} does not exist`);
    if (dataSpec !== 'pronoun' && dataSpec !== 'organism' && !dataSpec.startsWith('mc:') && !existsSync(dataSpec))
      throw new UserError(`--data: ${dataSpec} does not exist (use pronoun, organism, a BBQ .jsonl file or folder, or mc:<file>)`);
    // Paths are published as the user typed them (results.json, the report), never resolved.
    const outShown = v.out ?? join('runs', safeName(`${modelSpec === 'default' ? 'default' : modelSpec.split('/').filter(Boolean).pop()}-${dataSpec}`));
    const out = resolve(outShown);
    mkdirSync(out, { recursive: true });
    const lock = await lockRunFolder(out, { command: `crispr run ${argv.join(' ')}`, onNote: (line) => io.err(line) });
    try {
      if (v.fresh) new RunStore(out).clear();
      else new RunStore(out).removeTemporaries();
      let modelDir: string;
      let description: string;
      if (modelSpec === 'default') {
        progress.stage('building the embedded default model');
        // Deterministic and built in well under a second, so it is rebuilt inside the locked run
        // folder (no shared cache that two runs could write at once); its bytes key the stages.
        const made = await makeDefaultModel(join(out, 'default-model'), { overwrite: true });
        modelDir = made.dir;
        description = made.description;
      } else if (modelSpec === 'organism') {
        modelDir = ORGANISM_MODEL_DIR;
        description = 'the BBQ model organism: a small T5 trained by crispr-bench with a planted bias (see its README.md)';
      } else {
        modelDir = resolve(modelSpec);
        description = `model folder ${modelSpec}`;
      }
      progress.stage(`loading ${modelSpec === 'default' ? 'the embedded default model' : modelSpec === 'organism' ? 'the model organism' : modelSpec}`);
      const folder = await loadModelFolder(modelDir, v.variant ? { variant: v.variant } : {});
      const model = {
        ...folderAccess(folder, {
          attribution: { objective, reduce, kinds, maxBatch, memoryLimitMiB, session: { provider } },
          provider,
          description,
          scoreWorkers: scoreWorkersFor(folder, provider),
          ...(v.variant ? { variant: v.variant } : {}),
        }),
        id: modelSpec === 'default' ? 'default' : modelSpec,
      };
      const modelHash = await hashFiles(modelDir, modelFiles(modelDir, folder.files));
      try {
        return await runWith(model, modelSpec, modelHash, contextLimit(folder.config));
      } finally {
        await model.close?.();
      }
    } finally {
      lock.release();
    }

    async function runWith(model: ModelAccess, modelSpec: string, modelHash: string, limit: ReturnType<typeof contextLimit>): Promise<number> {
      if (dataSpec === 'organism' && (v.instructions !== undefined || v.template !== undefined))
        throw new UserError('--data organism has its own instruction sets and prompt template; drop --instructions / --template');
      const task = await loadTask(
        {
          source: dataSpec,
          categories,
          instructions: v.instructions,
          template: v.template,
          maxItems,
          seed,
        },
        model.kind,
      );
      const split = splitDevTest(task.items, { devFraction, seed });
      const index = new Map(task.items.map((it, i) => [it, i]));
      progress.note(
        `${task.items.length} items (${split.dev.length} dev for attribution, ${split.test.length} test), ${task.instructions.length} instruction(s), ${model.sites.length} sites / ${model.sites.reduce((a, s) => a + s.width, 0)} neurons`,
      );
      const results = await runPipeline(
        model,
        task,
        {
          title: `CRISPR on ${modelSpec === 'default' ? 'the embedded default model' : modelSpec.split('/').filter(Boolean).pop()} — ${task.name}`,
          out,
          split: { dev: split.dev.map((i) => index.get(i)!), test: split.test.map((i) => index.get(i)!) },
          attribution: {
            instances,
            trials,
            seed,
            lambda,
            skill: !v['no-skill'],
            confusionWeight: !v['no-confusion'],
            objective,
            reduce,
            kinds: Array.isArray(kinds) ? kinds.join(',') : kinds,
          },
          ks,
          ...(kMax !== undefined ? { kSearch: { kMax } } : {}),
          random: !v['no-random'],
          bootstrap,
          seed,
          provider,
          modelHash,
          contextLimit: limit,
          truncate,
        },
        progress,
      );
      const show = (k: string, p: (typeof results.sweep)[number]) => {
        const m = p.metrics[k];
        return m?.value === null || m?.value === undefined ? '—' : m.value.toFixed(3);
      };
      io.out('');
      const table = formatTable(results.sweep, [
        { header: 'method', value: (p) => p.method, minWidth: 9 },
        { header: 'k', value: (p) => String(p.k), align: 'right', minWidth: 4 },
        ...results.metricInfo.map((m) => ({
          header: m.key,
          value: (p: (typeof results.sweep)[number]) => show(m.key, p),
          align: 'right' as const,
          minWidth: 10,
        })),
      ]);
      for (const l of table) io.out(l);
      io.out('');
      io.out(`top neuron: ${results.topNeurons[0]?.site}[${results.topNeurons[0]?.unit}] (score ${results.topNeurons[0]?.score.toPrecision(4)})`);
      io.out(`results: ${join(outShown, 'results.json')}   ranking: ${join(outShown, 'ranking.json')}`);
      json.write(results);
      return 0;
    }
  },
});
