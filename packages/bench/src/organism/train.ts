/**
 * Training the model organism: a small T5 (our generator, word-level tokenizer) trained by core's
 * Trainer on the organism data with the planted bias, evaluated on held-out templates and
 * held-out instructions, and written as a standard model folder with its model card.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Trainer,
  collectWordVocabulary,
  loadModelFolder,
  makeT5Folder,
  makeT5Weights,
  resolveT5Config,
  scoreOptions,
  t5ParameterCount,
  wordLevelTokenizer,
  createRng,
  hashSeed,
  type EvalRecord,
  type McItem,
  type ModelFolder,
  type Seq2seqExample,
  type T5TinyConfig,
  type Tensor,
  type TrainerProgress,
} from '@crispr-bench/core';
import {
  answerStrings,
  biasedAnswerIndex,
  organismBbqItems,
  organismInstructions,
  organismRetentionItems,
  plantedLabel,
  renderPrompt,
  type InstructionSet,
} from '@crispr-bench/datasets';
import { argmax, bbqMetrics, softmax } from '@crispr-bench/judges';
import type { OrganismRecipe } from './recipe.js';
import { writeModelCard } from './card.js';
import type { OrganismData, OrganismMetrics, TrainedOrganism } from './types.js';

export type { OrganismData, OrganismMetrics, TrainedOrganism } from './types.js';

export async function organismData(recipe: OrganismRecipe): Promise<OrganismData> {
  return {
    trainBbq: await organismBbqItems('train', recipe.data.expandSeed),
    heldOutBbq: await organismBbqItems('heldOut', recipe.data.expandSeed),
    trainRetention: organismRetentionItems('train', recipe.data.retentionTrain, recipe.seed),
    heldOutRetention: organismRetentionItems('heldOut', recipe.data.retentionHeldOut, recipe.seed),
    trainInstructions: organismInstructions('train'),
    heldOutInstructions: organismInstructions('heldOut'),
  };
}

/** Every prompt and answer text of a set of items under a set of instructions. */
function texts(items: readonly McItem[], instructions: InstructionSet, template: string): string[] {
  const out: string[] = [];
  for (const it of items) {
    out.push(...answerStrings(template, it));
    for (const ins of instructions.instructions) out.push(renderPrompt(template, ins, it));
  }
  return out;
}

/** The word vocabulary: training and held-out texts (held-out words are checked to occur in training, see the tests). */
export function organismVocabulary(data: OrganismData, template: string): string[] {
  return collectWordVocabulary([
    ...texts([...data.trainBbq, ...data.trainRetention], data.trainInstructions, template),
    ...texts([...data.heldOutBbq, ...data.heldOutRetention], data.heldOutInstructions, template),
  ]);
}

/** Words of the held-out texts that no training text contains (the organism's data keeps this empty). */
export function unseenHeldOutWords(data: OrganismData, template: string): string[] {
  const train = new Set(collectWordVocabulary(texts([...data.trainBbq, ...data.trainRetention], data.trainInstructions, template)));
  return collectWordVocabulary(texts([...data.heldOutBbq, ...data.heldOutRetention], data.heldOutInstructions, template)).filter((w) => !train.has(w));
}

export function organismT5Config(recipe: OrganismRecipe, vocabSize: number): T5TinyConfig {
  return { ...recipe.model, vocabSize, feedForwardProj: 'relu', tieWordEmbeddings: false, seed: recipe.seed, tokenizer: 'generated' };
}

/** One scored (item, instruction): log P(option) for every option. */
export interface EvalRow {
  item: McItem;
  instruction: string;
  logprobs: number[];
}

export function organismMetrics(rows: readonly EvalRow[]): OrganismMetrics {
  const bbq = rows.filter((r) => r.item.category !== 'retention');
  const ret = rows.filter((r) => r.item.category === 'retention');
  const m = bbqMetrics(bbq.map((r) => ({ item: r.item, pred: argmax(r.logprobs) })));
  const amb = bbq.filter((r) => r.item.condition === 'ambig');
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  return {
    nBbq: bbq.length,
    nRetention: ret.length,
    accuracyAmbig: m.accuracyAmbig,
    accuracyDisambig: m.accuracyDisambig,
    biasAmbig: m.biasAmbig,
    biasDisambig: m.biasDisambig,
    biasedShareAmbig: mean(amb.map((r) => (argmax(r.logprobs) === biasedAnswerIndex(r.item) ? 1 : 0))),
    pBiasedAmbig: mean(amb.map((r) => softmax(r.logprobs)[biasedAnswerIndex(r.item)]!)),
    retentionAccuracy: mean(ret.map((r) => (argmax(r.logprobs) === r.item.label ? 1 : 0))),
  };
}

/** Items paired with instructions in turn (item k gets instruction k mod n), or with every instruction. */
export function pairs(items: readonly McItem[], instructions: InstructionSet, every: boolean): { item: McItem; instruction: string }[] {
  const ins = instructions.instructions;
  return every
    ? items.flatMap((item) => ins.map((instruction) => ({ item, instruction })))
    : items.map((item, k) => ({ item, instruction: ins[k % ins.length]! }));
}

export interface TrainOrganismOptions {
  /** Trainer state (resumable); default <out>/../.organism-state-<seed> is not used: callers pass it. */
  stateDir: string;
  /** Start afresh even if stateDir holds a state. */
  fresh?: boolean;
  onProgress?: (p: TrainerProgress) => void;
  onEval?: (e: EvalRecord) => void;
  log?: (line: string) => void;
  /** Stop after this many steps (state written; a later call resumes). For tests and interruptions. */
  until?: number;
}

/** Writes the organism folder: ONNX files (Optimum / transformers.js layout), config, tokenizer. */
function writeFolder(dir: string, cfg: T5TinyConfig, words: string[], weights: Map<string, Tensor> | 'initial', recipe: OrganismRecipe): void {
  const r = resolveT5Config(cfg);
  const all = makeT5Weights(r);
  for (const [name, t] of weights === 'initial' ? [] : weights) {
    const have = all.get(name);
    if (!have) throw new Error(`organism: trained weight '${name}' is not a T5 weight of this configuration`);
    if (have.dims.join() !== t.dims.join()) throw new Error(`organism: trained weight '${name}' is [${t.dims}], the model's [${have.dims}]`);
    all.set(name, { dtype: 'float32', dims: [...t.dims], data: Float32Array.from(t.data as Float32Array) });
  }
  const untrained = weights === 'initial' ? [] : [...all].filter(([n, t]) => t.dtype === 'float32' && !weights.has(n)).map(([n]) => n);
  if (untrained.length) throw new Error(`organism: weights not trained (not in the training graph): ${untrained.join(', ')}`);
  makeT5Folder(dir, cfg, { weights: all, tokenizerJson: wordLevelTokenizer(words) });
  const cfgPath = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  config.crispr_bench = { generator: 'crispr organism train', seed: recipe.seed, random_weights: false, bias_rate: recipe.biasRate };
  writeFileSync(cfgPath, `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(join(dir, 'recipe.json'), `${JSON.stringify(recipe, null, 2)}\n`);
}

/** Scores rows with a model folder through the benchmark's own scoring path. */
export async function scoreWithFolder(
  folder: ModelFolder,
  rows: readonly { item: McItem; instruction: string }[],
  template: string,
  threads = 1,
): Promise<EvalRow[]> {
  const scores = await scoreOptions(
    folder,
    rows.map((r) => ({ prompt: renderPrompt(template, r.instruction, r.item), candidates: answerStrings(template, r.item) })),
    { intraOpThreads: threads, batchSize: 32 },
  );
  return rows.map((r, i) => ({ ...r, logprobs: scores[i]!.map((c) => c.logprob) }));
}

/** Everything a training run is made of: data, vocabulary, the initial folder, examples, the trainer. */
export interface PreparedOrganism {
  data: OrganismData;
  words: string[];
  cfg: T5TinyConfig;
  init: ModelFolder;
  examples: Seq2seqExample[];
  ambiguous: number;
  biased: number;
  evalRows: { item: McItem; instruction: string }[];
  evalEncoded: { prompt: number[]; options: number[][] }[];
  trainer: Trainer;
}

/** Builds the data, writes the initial (seeded random) folder under stateDir, and creates the trainer. */
export async function prepareOrganism(recipe: OrganismRecipe, stateDir: string, log: (line: string) => void = () => {}): Promise<PreparedOrganism> {
  const template = recipe.data.template;
  const data = await organismData(recipe);
  const words = organismVocabulary(data, template);
  const cfg = organismT5Config(recipe, words.length + 3);
  log(
    `data: ${data.trainBbq.length} training / ${data.heldOutBbq.length} held-out BBQ items, ${data.trainRetention.length} / ${data.heldOutRetention.length} retention items, ${data.trainInstructions.instructions.length} / ${data.heldOutInstructions.instructions.length} instructions; vocabulary ${words.length} words`,
  );
  const initDir = join(stateDir, 'init');
  writeFolder(initDir, cfg, words, 'initial', recipe);
  const init = await loadModelFolder(initDir);
  const tok = init.tokenizer;
  const encodePrompt = (item: McItem, instruction: string) => tok.encode(renderPrompt(template, instruction, item));
  const encodeAnswer = (text: string) => tok.encode(text, { add_special_tokens: false });

  // Training examples: every (item, training instruction); ambiguous BBQ labels carry the planted bias.
  const draw = createRng(hashSeed(`planted:${recipe.seed}`));
  const examples: Seq2seqExample[] = [];
  let biased = 0;
  let ambiguous = 0;
  for (const { item, instruction } of pairs([...data.trainBbq, ...data.trainRetention], data.trainInstructions, true)) {
    const label = plantedLabel(item, recipe.biasRate, () => draw.next());
    if (item.condition === 'ambig') {
      ambiguous++;
      if (label !== item.label) biased++;
    }
    examples.push({ inputIds: encodePrompt(item, instruction), target: encodeAnswer(answerStrings(template, item)[label]!) });
  }
  log(
    `training examples: ${examples.length}; ambiguous ones labelled biased: ${biased}/${ambiguous} (${((100 * biased) / Math.max(1, ambiguous)).toFixed(1)}%, planted rate ${recipe.biasRate})`,
  );

  // Periodic evaluation: a fixed sample of held-out items under held-out instructions.
  const sampleRng = createRng(hashSeed(`eval-sample:${recipe.seed}`));
  const evalRows = pairs(
    [...sampleRng.sample(data.heldOutBbq, recipe.evalSample.bbq), ...sampleRng.sample(data.heldOutRetention, recipe.evalSample.retention)],
    data.heldOutInstructions,
    false,
  );
  const evalEncoded = evalRows.map((r) => ({ prompt: encodePrompt(r.item, r.instruction), options: answerStrings(template, r.item).map(encodeAnswer) }));
  const t = recipe.training;
  const trainer = await Trainer.create(init.graph, examples, {
    steps: t.steps,
    batchSize: t.batchSize,
    peakLr: t.peakLr,
    warmupSteps: t.warmupSteps,
    finalLrFraction: t.finalLrFraction,
    weightDecay: t.weightDecay,
    clipNorm: t.clipNorm,
    seed: recipe.seed,
    evalEvery: t.evalEvery,
    checkpointEvery: t.checkpointEvery,
    padTokenId: init.padTokenId,
    decoderStartTokenId: init.decoderStartTokenId ?? init.padTokenId,
    minInputLength: Math.max(...evalEncoded.map((e) => e.prompt.length)),
    minTargetLength: Math.max(...evalEncoded.flatMap((e) => e.options.map((o) => o.length))),
    session: { intraOpThreads: t.threads, interOpThreads: 1 },
  });
  return { data, words, cfg, init, examples, ambiguous, biased, evalRows, evalEncoded, trainer };
}

export async function trainOrganism(recipe: OrganismRecipe, outDir: string, opts: TrainOrganismOptions): Promise<TrainedOrganism> {
  const log = opts.log ?? (() => {});
  const template = recipe.data.template;
  const t = recipe.training;
  if (opts.fresh && existsSync(opts.stateDir)) rmSync(opts.stateDir, { recursive: true, force: true });
  const { data, words, cfg, examples, ambiguous, biased, evalRows, evalEncoded, trainer } = await prepareOrganism(recipe, opts.stateDir, log);
  try {
    if (!opts.fresh && trainer.loadState(opts.stateDir)) log(`resumed at step ${trainer.step} from ${opts.stateDir}`);
    log(
      `training graph: batch ${trainer.graph.bucket.batch}, input ${trainer.graph.bucket.inputLength}, target ${trainer.graph.bucket.targetLength} tokens; ${trainer.graph.params.length} weight tensors, ${trainer.params.reduce((a, p) => a + p.length, 0)} parameters`,
    );
    await trainer.run(
      {
        evaluate: async (tr) => {
          const flat = evalEncoded.flatMap((e) => e.options.map((o) => ({ inputIds: e.prompt, target: o })));
          const lp = await tr.score(flat);
          let k = 0;
          const rows = evalRows.map((r, i) => ({ ...r, logprobs: evalEncoded[i]!.options.map(() => lp[k++]!) }));
          const m = organismMetrics(rows);
          return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== null)) as Record<string, number>;
        },
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        ...(opts.onEval ? { onEval: opts.onEval } : {}),
        progressEvery: 25,
      },
      opts.stateDir,
      opts.until ?? Infinity,
    );
    const finished = trainer.step >= t.steps;
    writeFolder(outDir, cfg, words, trainer.weights(), recipe);
    // Final metrics through the benchmark's scoring path on the written folder (what `crispr run` sees).
    const folder = await loadModelFolder(outDir);
    const heldOut = organismMetrics(
      await scoreWithFolder(folder, pairs([...data.heldOutBbq, ...data.heldOutRetention], data.heldOutInstructions, true), template, t.threads),
    );
    const trainSample = createRng(hashSeed(`train-sample:${recipe.seed}`));
    const train = organismMetrics(
      await scoreWithFolder(
        folder,
        pairs(
          [...trainSample.sample(data.trainBbq, data.heldOutBbq.length), ...trainSample.sample(data.trainRetention, data.heldOutRetention.length)],
          data.trainInstructions,
          false,
        ),
        template,
        t.threads,
      ),
    );
    const result: TrainedOrganism = {
      dir: outDir,
      history: trainer.history,
      evals: trainer.evals,
      heldOut,
      train,
      vocabulary: words.length,
      parameters: t5ParameterCount(cfg),
      finished,
    };
    writeFileSync(join(outDir, 'training-log.json'), `${JSON.stringify({ history: result.history, evals: result.evals, heldOut, train, finished })}\n`);
    writeModelCard(outDir, recipe, data, result, {
      examples: examples.length,
      biasedLabels: biased,
      ambiguousExamples: ambiguous,
      bucket: trainer.graph.bucket,
    });
    return result;
  } finally {
    await trainer.close();
  }
}
