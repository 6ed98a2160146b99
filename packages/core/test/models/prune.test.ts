/**
 * Pruned export: the written folder, loaded by @huggingface/transformers, gives the logits of the
 * masked session (mask 0 at the pruned units) and differs from the unpruned model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoModelForCausalLM, AutoModelForSeq2SeqLM, Tensor as HfTensor, env } from '@huggingface/transformers';
import { i64, toNumbers } from '../../src/onnx/tensor.js';
import { readModel } from '../../src/onnx/io.js';
import { runModel } from '../../src/runtime/session.js';
import { loadModelFolder, type ModelFolder } from '../../src/models/folder.js';
import { addSiteMasks, maskFeeds, pruningMasks } from '../../src/models/masks.js';
import { pruneFolder, readRanking } from '../../src/models/prune.js';
import { releaseScoringSessions, scoreOptions } from '../../src/models/scoring.js';
import { HAVE_STORIES, HAVE_T5_TOKENIZER, NO_STORIES, NO_T5_TOKENIZER, maxAbsDiff, storiesFolder, t5Folder, tempDir } from './helpers.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;

const hf = (rows: number[][]) => new HfTensor('int64', BigInt64Array.from(rows.flat().map((x) => BigInt(x))), [rows.length, rows[0]!.length]);

/** A ranking over several sites and kinds: unit u of every other site, scores descending. */
function rankingFor(folder: ModelFolder, per: number): { site: string; unit: number; score: number }[] {
  const out: { site: string; unit: number; score: number }[] = [];
  folder.sites.forEach((s, i) => {
    if (i % 2) return;
    for (let j = 0; j < per; j++) out.push({ site: s.name, unit: (i * 7 + j * 5) % s.width, score: 0 });
  });
  return out.map((n, i) => ({ ...n, score: 1 - i / out.length }));
}

/** Logits of the folder's analysis graph with masks (ORT). */
async function maskedLogits(folder: ModelFolder, feeds: Record<string, ReturnType<typeof i64>>, neurons: { site: string; unit: number }[]): Promise<number[]> {
  const { model } = addSiteMasks(folder.graph, folder.sites);
  const out = await runModel(model, { ...feeds, ...maskFeeds(folder.sites, pruningMasks(folder.sites, neurons)) });
  return toNumbers(out.logits!);
}

describe.skipIf(!HAVE_STORIES)(`pruned export: stories260K (${HAVE_STORIES ? 'present' : NO_STORIES})`, () => {
  const tmp = tempDir('prune-stories');
  let src: ModelFolder;
  let ranking: { site: string; unit: number; score: number }[];
  let rankingPath: string;
  const K = 30;
  beforeAll(async () => {
    src = await loadModelFolder(storiesFolder(tmp.dir));
    ranking = rankingFor(src, 2);
    rankingPath = join(tmp.dir, 'ranking.json');
    writeFileSync(rankingPath, JSON.stringify({ neurons: ranking }));
  });
  afterAll(async () => {
    await releaseScoringSessions();
    tmp.cleanup();
  });

  it('transformers.js on the pruned folder equals the masked session to 1e-4 and differs from the source', async () => {
    const out = join(tmp.dir, 'pruned');
    const res = await pruneFolder(src.dir, rankingPath, K, out);
    expect(res.neurons).toEqual(ranking.slice(0, K).map(({ site, unit }) => ({ site, unit })));
    expect([...res.pruned].sort()).toEqual(['onnx/decoder_with_past_model.onnx', 'onnx/model.onnx']);
    expect(res.copied.sort()).toEqual(['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']);
    expect(JSON.parse(readFileSync(join(out, 'crispr_pruned.json'), 'utf8')).k).toBe(K);

    const text = 'Once upon a time, there was a little girl named Lily.';
    const ids = src.tokenizer.encode(text);
    const feeds = {
      input_ids: i64([1, ids.length], ids),
      attention_mask: i64(
        [1, ids.length],
        ids.map(() => 1),
      ),
    };
    const masked = await maskedLogits(src, feeds, res.neurons);
    const unpruned = await maskedLogits(src, feeds, []);
    const model = await AutoModelForCausalLM.from_pretrained(out, { local_files_only: true, dtype: 'fp32' });
    try {
      const logits = Array.from((await model({ input_ids: hf([ids]), attention_mask: hf([ids.map(() => 1)]) })).logits.data as Float32Array);
      expect(maxAbsDiff(logits, masked)).toBeLessThan(1e-4);
      expect(maxAbsDiff(logits, unpruned)).toBeGreaterThan(1e-3);
    } finally {
      await model.dispose();
    }
    // Our own loader on the pruned folder scores like the masked source.
    const pruned = await loadModelFolder(out);
    const items = [{ prompt: 'The pilot was tired, so', candidates: [' he', ' she'] }];
    const a = await scoreOptions(pruned, items);
    const b = await scoreOptions(src, items, { masks: pruningMasks(src.sites, res.neurons) });
    expect(
      maxAbsDiff(
        a[0]!.map((x) => x.logprob),
        b[0]!.map((x) => x.logprob),
      ),
    ).toBeLessThan(1e-4);
  });

  it('zeroes exactly the chosen weight columns and nothing else', async () => {
    const out = join(tmp.dir, 'pruned-one');
    await pruneFolder(src.dir, [{ site: 'model.layers.2.mlp.gate_proj', unit: 17 }], undefined, out);
    const before = readModel(join(src.dir, 'onnx/model.onnx')).graph.initializers;
    const after = readModel(join(out, 'onnx/model.onnx')).graph.initializers;
    for (const [name, t] of before) {
      const a = toNumbers(after.get(name)!);
      const b = toNumbers(t);
      if (name !== 'model.layers.2.mlp.gate_proj.weight') {
        expect(a, name).toEqual(b);
        continue;
      }
      const [rows, cols] = t.dims as [number, number];
      expect(cols).toBe(172);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) expect(a[r * cols + c]).toBe(c === 17 ? 0 : b[r * cols + c]);
      }
    }
  });

  it('names bad requests', async () => {
    await expect(pruneFolder(src.dir, rankingPath, ranking.length + 1, join(tmp.dir, 'x'))).rejects.toThrow(/k = \d+ but the ranking lists only \d+ neurons/);
    await expect(pruneFolder(src.dir, [{ site: 'model.layers.7.mlp.up_proj', unit: 0 }], undefined, join(tmp.dir, 'y'))).rejects.toThrow(
      /neurons\[0\]: unknown site 'model\.layers\.7\.mlp\.up_proj'/,
    );
    await expect(pruneFolder(src.dir, [{ site: 'model.layers.0.mlp.up_proj', unit: 172 }], undefined, join(tmp.dir, 'z'))).rejects.toThrow(
      /width 172; unit 172 is out of range/,
    );
    await expect(pruneFolder(src.dir, [], 0, src.dir)).rejects.toThrow(/output folder is the source folder/);
    expect(existsSync(join(tmp.dir, 'y'))).toBe(false);
    const bad = join(tmp.dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ neurons: [{ site: 'a', unit: -1 }] }));
    expect(() => readRanking(bad)).toThrow(/bad\.json: neurons\[0\]\.unit: expected a non-negative integer, got -1/);
  });
});

describe.skipIf(!HAVE_T5_TOKENIZER)(`pruned export: T5-style seq2seq (${HAVE_T5_TOKENIZER ? 'present' : NO_T5_TOKENIZER})`, () => {
  const tmp = tempDir('prune-t5');
  let src: ModelFolder;
  beforeAll(async () => {
    src = await loadModelFolder(t5Folder(tmp.dir));
  });
  afterAll(async () => {
    await releaseScoringSessions();
    tmp.cleanup();
  });

  it('prunes encoder, decoder and merged decoder alike; transformers.js equals the masked session to 1e-4', async () => {
    const ranking = rankingFor(src, 3);
    // Every kind is represented, cross-attention included.
    expect(new Set(ranking.map((n) => src.sites.find((s) => s.name === n.site)!.kind)).size).toBeGreaterThanOrEqual(7);
    const out = join(tmp.dir, 'pruned');
    const res = await pruneFolder(src.dir, ranking, ranking.length, out);
    expect([...res.pruned].sort()).toEqual(['onnx/decoder_model.onnx', 'onnx/decoder_model_merged.onnx', 'onnx/encoder_model.onnx']);

    const prompt = src.tokenizer.encode('Who was not comfortable using the phone?');
    const dec = [0, ...src.tokenizer.encode('The grandfather', { add_special_tokens: false })];
    const feeds = {
      input_ids: i64([1, prompt.length], prompt),
      attention_mask: i64(
        [1, prompt.length],
        prompt.map(() => 1),
      ),
      decoder_input_ids: i64([1, dec.length], dec),
    };
    const masked = await maskedLogits(src, feeds, res.neurons);
    const unpruned = await maskedLogits(src, feeds, []);
    const model = await AutoModelForSeq2SeqLM.from_pretrained(out, { local_files_only: true, dtype: 'fp32' });
    try {
      const o = await model({ input_ids: hf([prompt]), attention_mask: hf([prompt.map(() => 1)]), decoder_input_ids: hf([dec]) });
      const logits = Array.from(o.logits.data as Float32Array);
      expect(maxAbsDiff(logits, masked)).toBeLessThan(1e-4);
      expect(maxAbsDiff(logits, unpruned)).toBeGreaterThan(1e-3);
    } finally {
      await model.dispose();
    }
    // The plain decoder of the pruned folder agrees too (our loader prefers it).
    const pruned = await loadModelFolder(out);
    expect(pruned.files).toEqual(['onnx/encoder_model.onnx', 'onnx/decoder_model.onnx']);
    const { model: plain } = addSiteMasks(pruned.graph, pruned.sites);
    const viaPlain = toNumbers((await runModel(plain, { ...feeds, ...maskFeeds(pruned.sites) })).logits!);
    expect(maxAbsDiff(viaPlain, masked)).toBeLessThan(1e-4);
  });
});
