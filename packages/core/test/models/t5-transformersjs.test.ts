/**
 * @huggingface/transformers 4.3.2 loads generated T5 folders: AutoTokenizer encodes as the
 * tokenizer.json says, AutoModelForSeq2SeqLM (onnx/encoder_model.onnx + onnx/decoder_model_merged.onnx)
 * gives the logits our ORT sessions give on encoder_model.onnx + decoder_model.onnx, and its cached
 * greedy generation (the merged decoder's cache branch) equals a greedy loop without cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoModelForSeq2SeqLM, AutoTokenizer, Tensor as HfTensor, env } from '@huggingface/transformers';
import { createSession, i64, readModel, type ModelSession, type Tensor } from '../../src/index.js';
import { makeT5Folder, type T5Folder, type T5TinyConfig } from '../../src/models/generate/index.js';
import { T5_TINY } from '@crispr-bench/testing';

env.allowRemoteModels = false;

const assetsDir = process.env.CRISPR_ASSETS ?? join(__dirname, '../../../../../shared/assets');
const haveT5Tokenizer = existsSync(join(assetsDir, 'tokenizers/t5/tokenizer.json'));
if (!haveT5Tokenizer) console.warn(`t5-transformersjs: skipping the T5-vocabulary folder, tokenizer not found under ${assetsDir} (set CRISPR_ASSETS)`);

const SMALL_VOCAB: T5TinyConfig = {
  dModel: 16,
  dFf: 32,
  dKv: 4,
  numHeads: 4,
  numLayers: 1,
  numDecoderLayers: 2,
  vocabSize: 300,
  feedForwardProj: 'relu',
  seed: 11,
  tokenizer: 'assets-t5',
};

interface Loaded {
  folder: T5Folder;
  tokenizer: Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;
  model: Awaited<ReturnType<typeof AutoModelForSeq2SeqLM.from_pretrained>>;
  enc: ModelSession;
  dec: ModelSession;
  vocab: Map<string, number>;
}

const root = mkdtempSync(join(tmpdir(), 'crispr-t5js-'));
const loaded: Record<string, Loaded> = {};

async function load(name: string, cfg: T5TinyConfig): Promise<Loaded> {
  const folder = makeT5Folder(join(root, name), cfg, { assetsDir });
  const tokenizer = await AutoTokenizer.from_pretrained(folder.dir, { local_files_only: true });
  const model = await AutoModelForSeq2SeqLM.from_pretrained(folder.dir, { local_files_only: true, dtype: 'fp32' });
  const opts = { intraOpThreads: 1 };
  const json = JSON.parse(readFileSync(join(folder.dir, 'tokenizer.json'), 'utf8'));
  const vocab = new Map<string, number>((json.model.vocab as [string, number][]).map(([p], i) => [p, i]));
  return {
    folder,
    tokenizer,
    model,
    vocab,
    enc: await createSession(readModel(join(folder.dir, 'onnx/encoder_model.onnx')), opts),
    dec: await createSession(readModel(join(folder.dir, 'onnx/decoder_model.onnx')), opts),
  };
}

beforeAll(async () => {
  if (haveT5Tokenizer) loaded.t5 = await load('t5', T5_TINY);
  loaded.small = await load('small', SMALL_VOCAB);
});

afterAll(async () => {
  for (const l of Object.values(loaded)) {
    await l.model.dispose();
    await l.enc.release();
    await l.dec.release();
  }
  rmSync(root, { recursive: true, force: true });
});

const toRows = (t: HfTensor): number[][] => (t.tolist() as bigint[][]).map((r) => r.map(Number));
const ids2d = (rows: number[][]): Tensor => i64([rows.length, rows[0]!.length], rows.flat());
const hf = (rows: number[][]) => new HfTensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0]!.length]);

/** Our ORT logits (encoder_model + decoder_model, no cache). */
async function ortLogits(l: Loaded, ids: number[][], mask: number[][], dec: number[][]): Promise<Float32Array> {
  const e = await l.enc.run({ input_ids: ids2d(ids), attention_mask: ids2d(mask) });
  const d = await l.dec.run({ input_ids: ids2d(dec), encoder_attention_mask: ids2d(mask), encoder_hidden_states: e.last_hidden_state! });
  return d.logits!.data as Float32Array;
}

describe.skipIf(!haveT5Tokenizer)('transformers.js on a T5-vocabulary folder', () => {
  it('AutoTokenizer encodes with the real T5 vocabulary', () => {
    const { tokenizer, vocab } = loaded.t5!;
    const ids = toRows(tokenizer('Hello world').input_ids)[0];
    // T5's SentencePiece has whole-word pieces for both words; </s> (id 1) is appended.
    expect(ids).toEqual([vocab.get('▁Hello'), vocab.get('▁world'), 1]);
    expect(ids).toEqual([8774, 296, 1]);
    // "he" has no "▁he" piece in T5's vocabulary: it splits into "▁" + "he".
    expect(vocab.has('▁he')).toBe(false);
    expect(toRows(tokenizer('so he went').input_ids)[0]).toEqual([vocab.get('▁so'), vocab.get('▁'), vocab.get('he'), vocab.get('▁went'), 1]);
    expect(tokenizer.decode([8774, 296, 1], { skip_special_tokens: true })).toBe('Hello world');
  });

  it('forward logits equal ORT on encoder_model + decoder_model (padded batch)', async () => {
    const l = loaded.t5!;
    const enc = l.tokenizer(['The pilot was tired, so he went home early after a very long flight.', 'Who was not comfortable using the phone?'], {
      padding: true,
    });
    const ids = toRows(enc.input_ids);
    const mask = toRows(enc.attention_mask);
    expect(mask[1]!.includes(0)).toBe(true);
    const dec = [
      [0, 37, 4487, 47, 6],
      [0, 2645, 47, 59, 3],
    ];
    const out = await l.model.forward({ input_ids: enc.input_ids, attention_mask: enc.attention_mask, decoder_input_ids: hf(dec) });
    expect(out.logits.dims).toEqual([2, 5, 32128]);
    const mine = await ortLogits(l, ids, mask, dec);
    let m = 0;
    const theirs = out.logits.data as Float32Array;
    for (let i = 0; i < mine.length; i++) m = Math.max(m, Math.abs(theirs[i]! - mine[i]!));
    console.log(`t5 transformers.js vs ORT: max |logit diff| ${m.toExponential(2)}`);
    expect(m).toBeLessThan(1e-4);
  });

  it('cached greedy generation equals an uncached greedy loop', async () => {
    const l = loaded.t5!;
    const enc = l.tokenizer('Mitigating biases of instruction-following language models');
    const ids = toRows(enc.input_ids);
    const mask = toRows(enc.attention_mask);
    const steps = 8;
    const generated = toRows(
      (await l.model.generate({ input_ids: enc.input_ids, attention_mask: enc.attention_mask, max_new_tokens: steps, do_sample: false })) as HfTensor,
    )[0]!;
    const seq = [0];
    const V = l.folder.config.vocabSize;
    while (seq.length <= steps) {
      const logits = await ortLogits(l, ids, mask, [seq]);
      const last = logits.subarray((seq.length - 1) * V, seq.length * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (last[v]! > last[best]!) best = v;
      seq.push(best);
      if (best === 1) break;
    }
    expect(generated).toEqual(seq);
  });
});

describe('transformers.js on a generated small-vocabulary folder', () => {
  it('AutoTokenizer segments with the generated Unigram vocabulary', () => {
    const { tokenizer, vocab, folder } = loaded.small!;
    expect(folder.tokenizer).toBe('generated');
    expect(vocab.size).toBe(300);
    // "the" and "was" are whole-word pieces; "cat" is not, so Viterbi takes "▁c" + "a" + "t"; "Q" stays a letter piece.
    const ids = toRows(tokenizer('the cat was Q').input_ids)[0];
    expect(ids).toEqual([vocab.get('▁the'), vocab.get('▁c'), vocab.get('a'), vocab.get('t'), vocab.get('▁was'), vocab.get('▁'), vocab.get('Q'), 1]);
    expect(tokenizer.decode(ids, { skip_special_tokens: true })).toBe('the cat was Q');
    // A character outside the vocabulary becomes <unk> (id 2).
    expect(toRows(tokenizer('é').input_ids)[0]).toContain(2);
  });

  it('forward logits equal ORT (tied head, relu)', async () => {
    const l = loaded.small!;
    const enc = l.tokenizer(['the man was there', 'no'], { padding: true });
    const dec = [
      [0, 5, 6],
      [0, 7, 8],
    ];
    const out = await l.model.forward({ input_ids: enc.input_ids, attention_mask: enc.attention_mask, decoder_input_ids: hf(dec) });
    const mine = await ortLogits(l, toRows(enc.input_ids), toRows(enc.attention_mask), dec);
    const theirs = out.logits.data as Float32Array;
    expect(theirs.length).toBe(mine.length);
    let m = 0;
    for (let i = 0; i < mine.length; i++) m = Math.max(m, Math.abs(theirs[i]! - mine[i]!));
    expect(m).toBeLessThan(1e-4);
  });
});
