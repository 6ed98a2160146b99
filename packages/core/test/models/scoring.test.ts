/**
 * Option scoring against @huggingface/transformers forward() logits on the same folders, and on
 * stories260K against the independent float64 forward pass of test/helpers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoModelForCausalLM, AutoModelForSeq2SeqLM, Tensor as HfTensor, env } from '@huggingface/transformers';
import { loadModelFolder, type ModelFolder } from '../../src/models/folder.js';
import {
  encodeScoringRows,
  releaseScoringSessions,
  scoreOptions,
  sharedScoringDecoder,
  type CandidateScore,
  type ScoreItem,
} from '../../src/models/scoring.js';
import { onesMasks, pruningMasks } from '../../src/models/masks.js';
import { CACHE_GRAPH_FILE, cacheGraph } from '../../src/models/cache.js';
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readModel, writeModel } from '../../src/onnx/io.js';
import { loadReferenceModel, logSoftmax, referenceLogits } from '../helpers/llama-reference-f64.js';
import {
  HAVE_STORIES,
  HAVE_T5_TOKENIZER,
  NO_STORIES,
  NO_T5_TOKENIZER,
  STORIES_GGUF,
  logSoftmaxRow,
  maxAbsDiff,
  storiesFolder,
  t5Folder,
  tempDir,
} from './helpers.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;

const ids = (rows: number[][]) => new HfTensor('int64', BigInt64Array.from(rows.flat().map((x) => BigInt(x))), [rows.length, rows[0]!.length]);
const flatTokenLogprobs = (r: CandidateScore[][]) => r.flatMap((c) => c.flatMap((x) => x.tokenLogprobs));

const STORY_ITEMS: ScoreItem[] = [
  { prompt: 'The pilot was tired, so', candidates: [' he', ' she', ' they went to sleep.'] },
  { prompt: 'Once upon a time, there was a little', candidates: [' girl', ' dog named Max'] },
  { prompt: [1, 291, 282], candidates: [[290, 309], ' tired'] },
];

/** Prompt families: shared prefixes (one prompt a prefix of another), a duplicate, a singleton, a 1-token prompt. */
const FAMILY_ITEMS: ScoreItem[] = [
  { prompt: 'Once upon a time, there was a little girl named Lily. She', candidates: [' liked', ' was sad.'] },
  { prompt: 'Once upon a time, there was a little girl named Lily. One day', candidates: [' she', ' he'] },
  { prompt: 'Once upon a time, there was a little girl', candidates: [' named Sue', '.'] },
  { prompt: 'Once upon a time, there was a little girl named Lily. She', candidates: [' liked', ' ran'] },
  { prompt: 'Once upon a time, there was a big dog', candidates: [' who barked'] },
  { prompt: 'The pilot was tired, so', candidates: [' he', ' she'] },
  { prompt: [1], candidates: [' Once', [290, 309]] },
  // A family that shares most of its tokens, and a longer prompt of its own beside it.
  { prompt: 'Once upon a time, there was a little girl named Lily. She liked to', candidates: [' play', ' run'] },
  { prompt: 'Once upon a time, there was a little girl named Lily. One day she', candidates: [' went'] },
  { prompt: 'Once upon a time, there was a little girl named Lily. Her mom', candidates: [' said', ' was'] },
  { prompt: 'Once upon a time, there was a little girl named Lily. She was', candidates: [' happy'] },
  { prompt: 'Tom and his big dog went to the park to play with a red ball', candidates: [' and'] },
];

describe.skipIf(!HAVE_STORIES)(`option scoring: stories260K (${HAVE_STORIES ? 'present' : NO_STORIES})`, () => {
  const tmp = tempDir('score-stories');
  let folder: ModelFolder;
  beforeAll(async () => {
    folder = await loadModelFolder(storiesFolder(tmp.dir));
  });
  afterAll(async () => {
    await releaseScoringSessions();
    tmp.cleanup();
  });

  it('has 5 layers x (q 64, k 32, v 32, o 64, gate 172, up 172, down 64) sites', () => {
    expect(folder.kind).toBe('decoder-only');
    expect(folder.sites).toHaveLength(35);
    const want: [string, string, number][] = [
      ['self_attn.q_proj', 'attn_q', 64],
      ['self_attn.k_proj', 'attn_k', 32],
      ['self_attn.v_proj', 'attn_v', 32],
      ['self_attn.o_proj', 'attn_o', 64],
      ['mlp.gate_proj', 'ffn_gate', 172],
      ['mlp.up_proj', 'ffn_up', 172],
      ['mlp.down_proj', 'ffn_down', 64],
    ];
    folder.sites.forEach((s, i) => {
      const [suffix, kind, width] = want[i % 7]!;
      const layer = Math.floor(i / 7);
      expect([s.name, s.kind, s.width, s.layer, s.side, s.stack]).toEqual([`model.layers.${layer}.${suffix}`, kind, width, layer, 'target', 'decoder']);
    });
  });

  it('agrees with an independent float64 forward pass to 1e-4 per token', async () => {
    const res = await scoreOptions(folder, STORY_ITEMS);
    const ref = loadReferenceModel(STORIES_GGUF);
    const rows = encodeScoringRows(folder, STORY_ITEMS);
    expect(rows).toHaveLength(7);
    for (const r of rows) {
      const logits = referenceLogits(ref, r.inputIds);
      const want = r.target.map((t, k) => logSoftmax(logits[r.firstPosition + k]!)[t]!);
      const got = res[r.item]![r.candidate]!;
      expect(got.tokens).toBe(r.target.length);
      expect(maxAbsDiff(got.tokenLogprobs, want)).toBeLessThan(1e-4);
      expect(Math.abs(got.logprob - want.reduce((a, b) => a + b, 0))).toBeLessThan(1e-4 * r.target.length);
    }
    // The model's known association: " he" over " she" after "The pilot was tired, so" (about 20 to 1).
    const [he, she] = res[0]!;
    expect(Math.exp(he!.logprob - she!.logprob)).toBeGreaterThan(10);
  });

  it('agrees with @huggingface/transformers forward() logits on the same folder', async () => {
    const res = await scoreOptions(folder, STORY_ITEMS);
    const model = await AutoModelForCausalLM.from_pretrained(folder.dir, { local_files_only: true, dtype: 'fp32' });
    try {
      for (const r of encodeScoringRows(folder, STORY_ITEMS)) {
        const out = await model({ input_ids: ids([r.inputIds]), attention_mask: ids([r.inputIds.map(() => 1)]) });
        const V = out.logits.dims[2] as number;
        const flat = out.logits.data as Float32Array;
        const want = r.target.map((t, k) => logSoftmaxRow(flat, r.firstPosition + k, V)[t]!);
        expect(maxAbsDiff(res[r.item]![r.candidate]!.tokenLogprobs, want)).toBeLessThan(1e-4);
      }
    } finally {
      await model.dispose();
    }
  });

  it('tokenises a candidate as the model sees it inside prompt + candidate', () => {
    const rows = encodeScoringRows(folder, [{ prompt: 'The pilot was tired, so', candidates: [' he'] }]);
    const full = folder.tokenizer.encode('The pilot was tired, so he');
    expect(rows[0]!.inputIds).toEqual(full);
    expect(rows[0]!.target).toEqual(full.slice(-1));
    // Alone, SentencePiece's dummy prefix would give a different (two-token) encoding.
    expect(folder.tokenizer.encode(' he', { add_special_tokens: false })).not.toEqual(rows[0]!.target);
    expect(rows[0]!.inputIds[0]).toBe(folder.bosTokenId);
  });

  it('padding and batch size do not change results', async () => {
    const one = await scoreOptions(folder, STORY_ITEMS, { batchSize: 1 });
    const two = await scoreOptions(folder, STORY_ITEMS, { batchSize: 2 });
    const all = await scoreOptions(folder, STORY_ITEMS, { batchSize: 16 });
    expect(maxAbsDiff(flatTokenLogprobs(one), flatTokenLogprobs(all))).toBeLessThan(1e-5);
    expect(maxAbsDiff(flatTokenLogprobs(two), flatTokenLogprobs(all))).toBeLessThan(1e-5);
  });

  it('scores under a mask set: ones equal the default, zeros change the scores', async () => {
    const base = await scoreOptions(folder, STORY_ITEMS);
    const ones = await scoreOptions(folder, STORY_ITEMS, { masks: onesMasks(folder.sites) });
    expect(flatTokenLogprobs(ones)).toEqual(flatTokenLogprobs(base));
    const masks = pruningMasks(folder.sites, [
      { site: 'model.layers.4.mlp.down_proj', unit: 3 },
      { site: 'model.layers.0.self_attn.v_proj', unit: 7 },
    ]);
    const pruned = await scoreOptions(folder, STORY_ITEMS, { masks });
    expect(maxAbsDiff(flatTokenLogprobs(pruned), flatTokenLogprobs(base))).toBeGreaterThan(1e-3);
    await expect(scoreOptions(folder, STORY_ITEMS, { masks: { 'model.layers.9.mlp.up_proj': new Float32Array(172) } })).rejects.toThrow(
      /unknown site 'model\.layers\.9\.mlp\.up_proj'/,
    );
  });

  it('with the cache graph (prompt once, candidates on its keys/values) equals the full-sequence graph, masked or not', async () => {
    const plainDir = join(tmp.dir, 'no-cache');
    cpSync(folder.dir, plainDir, { recursive: true });
    rmSync(join(plainDir, CACHE_GRAPH_FILE));
    const plain = await loadModelFolder(plainDir);
    expect(cacheGraph(folder)).toBeDefined();
    expect(cacheGraph(plain)).toBeUndefined();
    const masks = pruningMasks(folder.sites, [
      { site: 'model.layers.1.self_attn.k_proj', unit: 5 },
      { site: 'model.layers.4.mlp.gate_proj', unit: 9 },
    ]);
    for (const opts of [{}, { masks }, { masks, batchSize: 2 }]) {
      const a = await scoreOptions(folder, STORY_ITEMS, opts);
      const b = await scoreOptions(plain, STORY_ITEMS, opts);
      expect(maxAbsDiff(flatTokenLogprobs(a), flatTokenLogprobs(b))).toBeLessThan(1e-5);
    }
    // Prompts that share a prefix run it once and their remainders on its keys and values.
    for (const opts of [{}, { masks, batchSize: 5 }, { batchSize: 1 }, { prefillSegment: 5 }, { masks, prefillSegment: 1, batchSize: 4 }]) {
      const a = await scoreOptions(folder, FAMILY_ITEMS, opts);
      const b = await scoreOptions(plain, FAMILY_ITEMS, opts);
      expect(maxAbsDiff(flatTokenLogprobs(a), flatTokenLogprobs(b))).toBeLessThan(1e-5);
      expect(Math.abs(a[3]![0]!.logprob - a[0]![0]!.logprob)).toBeLessThan(1e-5);
    }
    // A folder whose model.onnx was edited but not its cache twin is refused, not mixed.
    const editedDir = join(tmp.dir, 'edited');
    cpSync(folder.dir, editedDir, { recursive: true });
    const m = readModel(join(editedDir, 'onnx/model.onnx'));
    const w = m.graph.initializers.get(folder.sites[3]!.weight)!;
    (w.data as Float32Array)[0]! += 0.5;
    writeModel(m, join(editedDir, 'onnx/model.onnx'));
    const edited = await loadModelFolder(editedDir);
    expect(() => cacheGraph(edited)).toThrow(
      new RegExp(
        `the cache graph's weight '${folder.sites[3]!.weight.replace(/\./g, '\\.')}' \\(site ${folder.sites[3]!.name.replace(/\./g, '\\.')}\\) differs from the model graph's`,
      ),
    );
  });

  it('rejects empty candidates and out-of-vocabulary ids with the item named', async () => {
    await expect(scoreOptions(folder, [{ prompt: 'x', candidates: [] }])).rejects.toThrow(/item 0 has no candidates/);
    await expect(scoreOptions(folder, [{ prompt: 'x', candidates: ['a', ''] }])).rejects.toThrow(/item 0 candidate 1: the candidate has no tokens/);
    await expect(scoreOptions(folder, [{ prompt: [1], candidates: [[512]] }])).rejects.toThrow(/token id 512 is not in the vocabulary/);
  });
});

describe.skipIf(!HAVE_T5_TOKENIZER)(`option scoring: T5-style seq2seq (${HAVE_T5_TOKENIZER ? 'present' : NO_T5_TOKENIZER})`, () => {
  const tmp = tempDir('score-t5');
  let folder: ModelFolder;
  const items: ScoreItem[] = [
    {
      prompt: 'I saw a grandson and their grandfather. Who was not comfortable using the phone?',
      candidates: ['The grandfather', 'The grandson', "Can't be determined"],
    },
    { prompt: 'Is the sky blue?', candidates: ['yes', 'no'] },
  ];
  beforeAll(async () => {
    folder = await loadModelFolder(t5Folder(tmp.dir));
  });
  afterAll(async () => {
    await releaseScoringSessions();
    tmp.cleanup();
  });

  it('agrees with @huggingface/transformers forward() logits (encoder + merged decoder) on the same folder', async () => {
    expect(folder.kind).toBe('seq2seq');
    expect(folder.decoderStartTokenId).toBe(0);
    const res = await scoreOptions(folder, items);
    const model = await AutoModelForSeq2SeqLM.from_pretrained(folder.dir, { local_files_only: true, dtype: 'fp32' });
    try {
      const rows = encodeScoringRows(folder, items);
      for (const r of rows) {
        expect(r.decoderInputIds).toEqual([0, ...r.target.slice(0, -1)]);
        const out = await model({ input_ids: ids([r.inputIds]), attention_mask: ids([r.inputIds.map(() => 1)]), decoder_input_ids: ids([r.decoderInputIds!]) });
        const V = out.logits.dims[2] as number;
        const flat = out.logits.data as Float32Array;
        const want = r.target.map((t, k) => logSoftmaxRow(flat, k, V)[t]!);
        expect(maxAbsDiff(res[r.item]![r.candidate]!.tokenLogprobs, want)).toBeLessThan(1e-4);
      }
    } finally {
      await model.dispose();
    }
  });

  it('appends EOS to the target on request', async () => {
    const plain = await scoreOptions(folder, items);
    const eos = await scoreOptions(folder, items, { appendEos: true });
    const rows = encodeScoringRows(folder, items, { appendEos: true });
    expect(rows[0]!.target.at(-1)).toBe(folder.eosTokenId);
    expect(eos[0]![0]!.tokens).toBe(plain[0]![0]!.tokens + 1);
    // The shared prefix scores the same; the EOS term is one more log-probability.
    expect(maxAbsDiff(eos[0]![0]!.tokenLogprobs.slice(0, -1), plain[0]![0]!.tokenLogprobs)).toBeLessThan(1e-5);
  });

  it('runs the encoder once per prompt with the same results as the merged graph', async () => {
    expect(folder.parts).toBeDefined();
    expect(folder.parts!.encoderSites.length + folder.parts!.decoderSites.length).toBe(folder.sites.length);
    const masks = pruningMasks(folder.sites, [
      { site: 'encoder.block.1.layer.1.DenseReluDense.wo', unit: 5 },
      { site: 'decoder.block.0.layer.1.EncDecAttention.v', unit: 2 },
    ]);
    for (const batchSize of [1, 2, 16]) {
      const merged = await scoreOptions(folder, items, { batchSize, shareEncoder: false, masks });
      const shared = await scoreOptions(folder, items, { batchSize, masks });
      expect(maxAbsDiff(flatTokenLogprobs(shared), flatTokenLogprobs(merged))).toBeLessThan(1e-5);
    }
    // The candidate rows share their prompt's cross-attention keys and values, masked per prompt:
    // no site mask of a cross-attention projection multiplies a value gathered to rows.
    const dec = await sharedScoringDecoder(folder);
    expect(dec).not.toBeNull();
    const crossMasks = new Set(folder.parts!.decoderSites.filter((s) => s.kind === 'cross_k' || s.kind === 'cross_v').map((s) => `mask.${s.name}`));
    const maskProducts = dec!.graph.nodes.filter((n) => n.inputs.some((i) => crossMasks.has(i)));
    expect(maskProducts.length).toBe(crossMasks.size);
    expect(maskProducts.filter((n) => n.inputs.some((i) => i.endsWith('/rows'))).map((n) => n.name)).toEqual([]);
  });

  it('padding, batch size and mask ones do not change results; a zero mask on a cross-attention key does', async () => {
    const one = await scoreOptions(folder, items, { batchSize: 1 });
    const all = await scoreOptions(folder, items, { batchSize: 16, masks: onesMasks(folder.sites) });
    expect(maxAbsDiff(flatTokenLogprobs(one), flatTokenLogprobs(all))).toBeLessThan(1e-5);
    const k = folder.sites.find((s) => s.kind === 'cross_k')!;
    const masks = pruningMasks(
      folder.sites,
      Array.from({ length: k.width }, (_, unit) => ({ site: k.name, unit })),
    );
    const pruned = await scoreOptions(folder, items, { masks });
    expect(maxAbsDiff(flatTokenLogprobs(pruned), flatTokenLogprobs(all))).toBeGreaterThan(1e-4);
  });
});
