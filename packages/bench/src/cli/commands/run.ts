/**
 * `crispr run`: the main job. CRISPR end to end on one model and one dataset: score, attribute,
 * rank, prune the top k through masks, evaluate the sweep with the random-pruning control, and
 * write results.json (render it with `crispr report <out>`). Interrupted runs resume from the
 * stages already written in --out.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UsageError, UserError, choiceOption, consoleIO, intOption, jsonOutput, loadModelFolder, parseCommandLine, safeName, type CliCommand, type CliIO } from '@crispr-bench/core';
import { splitDevTest } from '@crispr-bench/datasets';
import { makeDefaultModel } from '../../default-model/index.js';
import { folderAccess } from '../../pipeline/folder-access.js';
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
  --batch <n>              largest attribution batch (default 8)
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


export const runCommand: CliCommand = {
  name: 'run',
  summary: 'run CRISPR end to end (score, attribute, prune, evaluate) and write results.json',
  usage: USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const v = parseCommandLine(
      argv,
      {
        model: { type: 'string' },
        variant: { type: 'string' },
        data: { type: 'string' },
        categories: { type: 'string' },
        'max-items': { type: 'string' },
        instructions: { type: 'string' },
        template: { type: 'string' },
        'dev-fraction': { type: 'string' },
        instances: { type: 'string' },
        trials: { type: 'string' },
        objective: { type: 'string' },
        reduce: { type: 'string' },
        kinds: { type: 'string' },
        lambda: { type: 'string' },
        'no-skill': { type: 'boolean' },
        'no-confusion': { type: 'boolean' },
        k: { type: 'string' },
        'k-search': { type: 'string' },
        'no-random': { type: 'boolean' },
        bootstrap: { type: 'string' },
        seed: { type: 'string' },
        batch: { type: 'string' },
        'memory-mib': { type: 'string' },
        provider: { type: 'string' },
        out: { type: 'string' },
        fresh: { type: 'boolean' },
        truncate: { type: 'string' },
        json: { type: 'string' },
      },
      USAGE,
    ).values;
    const json = jsonOutput(io, v.json);
    io = json.io;
    const progress = progressReporter(io);
    const seed = intOption(v.seed, 'seed', 0);
    const objective = choiceOption(v.objective, ['logprob', 'prob'], '--objective', 'logprob');
    const reduce = choiceOption(v.reduce, ['max', 'mean'], '--reduce', 'max');
    const provider = choiceOption(v.provider, ['cpu', 'cuda', 'webgpu'], '--provider', 'cpu');
    const truncate = choiceOption(v.truncate, ['error', 'left', 'right'], '--truncate', 'error');
    const ks = (v.k ?? '0,1,2,4,8,16,32').split(',').map((x) => intOption(x.trim(), 'k', 0));
    const lambda = v.lambda === undefined ? 1 : Number(v.lambda);
    if (!Number.isFinite(lambda) || lambda < 0) throw new UsageError(`--lambda must be a non-negative number, got '${v.lambda}'`);
    const devFraction = v['dev-fraction'] === undefined ? 0.5 : Number(v['dev-fraction']);
    if (!(devFraction > 0 && devFraction < 1)) throw new UsageError(`--dev-fraction must be in (0, 1), got '${v['dev-fraction']}'`);
    const kinds = v.kinds === undefined || v.kinds === 'all' ? 'all' : v.kinds === 'ffn' ? 'ffn' : v.kinds.split(',');
    const dataSpec = v.data ?? 'pronoun';

    const modelSpec = v.model ?? 'default';
    if (modelSpec !== 'default' && modelSpec !== 'organism' && !existsSync(modelSpec)) throw new UserError(`--model: ${modelSpec} does not exist`);
    if (dataSpec !== 'pronoun' && dataSpec !== 'organism' && !dataSpec.startsWith('mc:') && !existsSync(dataSpec)) throw new UserError(`--data: ${dataSpec} does not exist (use pronoun, organism, a BBQ .jsonl file or folder, or mc:<file>)`);
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
          attribution: { objective, reduce, kinds, maxBatch: intOption(v.batch, 'batch', 8, 1), memoryLimitMiB: intOption(v['memory-mib'], 'memory-mib', 2048, 1), session: { provider } },
          provider,
          description,
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
      if (dataSpec === 'organism' && (v.instructions !== undefined || v.template !== undefined)) throw new UserError('--data organism has its own instruction sets and prompt template; drop --instructions / --template');
      const task = await loadTask(
        {
          source: dataSpec,
          categories: typeof v.categories === 'string' ? v.categories.split(',') : undefined,
          instructions: v.instructions,
          template: v.template,
          maxItems: v['max-items'] === undefined ? undefined : intOption(v['max-items'], 'max-items', 0, 1),
          seed,
        },
        model.kind,
      );
      const split = splitDevTest(task.items, { devFraction, seed });
      const index = new Map(task.items.map((it, i) => [it, i]));
      progress.note(`${task.items.length} items (${split.dev.length} dev for attribution, ${split.test.length} test), ${task.instructions.length} instruction(s), ${model.sites.length} sites / ${model.sites.reduce((a, s) => a + s.width, 0)} neurons`);
      const results = await runPipeline(
        model,
        task,
        {
          title: `CRISPR on ${modelSpec === 'default' ? 'the embedded default model' : modelSpec.split('/').filter(Boolean).pop()} — ${task.name}`,
          out,
          split: { dev: split.dev.map((i) => index.get(i)!), test: split.test.map((i) => index.get(i)!) },
          attribution: {
            instances: intOption(v.instances, 'instances', 20, 1),
            trials: intOption(v.trials, 'trials', 3, 1),
            seed,
            lambda,
            skill: !v['no-skill'],
            confusionWeight: !v['no-confusion'],
            objective,
            reduce,
            kinds: Array.isArray(kinds) ? kinds.join(',') : kinds,
          },
          ks,
          ...(v['k-search'] !== undefined ? { kSearch: { kMax: intOption(v['k-search'], 'k-search', 500, 1) } } : {}),
          random: !v['no-random'],
          bootstrap: intOption(v.bootstrap, 'bootstrap', 1000, 1),
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
      const keys = results.metricInfo.map((m) => m.key);
      io.out(['method'.padEnd(9), 'k'.padStart(4), ...keys.map((k) => k.padStart(Math.max(10, k.length)))].join('  '));
      for (const p of results.sweep) io.out([p.method.padEnd(9), String(p.k).padStart(4), ...keys.map((k) => show(k, p).padStart(Math.max(10, k.length)))].join('  '));
      io.out('');
      io.out(`top neuron: ${results.topNeurons[0]?.site}[${results.topNeurons[0]?.unit}] (score ${results.topNeurons[0]?.score.toPrecision(4)})`);
      io.out(`results: ${join(outShown, 'results.json')}   ranking: ${join(outShown, 'ranking.json')}`);
      json.write(results);
      return 0;
    }
  },
};
