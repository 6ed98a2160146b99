/**
 * Generated Llama folders (models/generate/llama-folder.ts): the SentencePiece word vocabulary, the
 * folder through the real GGUF import against the independent float64 reference, overrides,
 * determinism, and the planted model (one FFN unit carries the answer).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readGguf } from '../../src/gguf/reader.js';
import { spmBpeEncode, spmVocabFromGguf } from '../../src/gguf/tokenizer.js';
import { readModel } from '../../src/onnx/io.js';
import { i64, toNumbers } from '../../src/onnx/tensor.js';
import { createSession } from '../../src/runtime/session.js';
import { loadModelFolder, type ModelFolder } from '../../src/models/folder.js';
import { releaseScoringSessions, scoreOptions } from '../../src/models/scoring.js';
import { makeLlamaFolder, spmVocabFromPieces, spmWordPieces, type LlamaFolderSummary } from '../../src/models/generate/llama-folder.js';
import { loadReferenceModel, referenceLogits } from '../helpers/llama-reference-f64.js';
import { maxAbsDiff, tempDir } from './helpers.js';
import { LLAMA_TINY, type PlantedLlamaSummary, makePlantedLlamaFolder } from '@crispr-bench/testing';

const WORDS = [' The', ' pilot', ' nurse', ' was', ' tired', ' so', ' he', ' she', ',', ' the', ' little', ' girl'];

describe('SentencePiece word vocabulary', () => {
  it('holds every word with the prefix chain that reaches it, and specials, bytes and characters', () => {
    const pieces = spmWordPieces([' pilot', ' pig', ','], { chars: 'xy' });
    expect(pieces.slice(0, 3)).toEqual(['<unk>', '<s>', '</s>']);
    expect(pieces[3]).toBe('<0x00>');
    expect(pieces[258]).toBe('<0xFF>');
    expect(pieces.slice(259)).toEqual(['▁', 'x', 'y', 'p', 'i', 'l', 'o', 't', 'g', ',', '▁p', '▁pi', '▁pil', '▁pilo', '▁pilot', '▁pig']);
    expect(spmWordPieces([' a'], { byteFallback: false })).toEqual(['<unk>', '<s>', '</s>', '▁', 'a', '▁a']);
    expect(() => spmWordPieces(['two words'])).toThrow(/inner whitespace/);
  });

  it('encodes whole words to single pieces and unknown text to bytes', () => {
    const v = spmVocabFromPieces(spmWordPieces(WORDS));
    const tok = (s: string) => spmBpeEncode(v, s, { addBos: false }).map((i) => v.tokens[i]);
    expect(tok('The pilot was tired, so he')).toEqual(['▁The', '▁pilot', '▁was', '▁tired', ',', '▁so', '▁he']);
    expect(tok('The little girl')).toEqual(['▁The', '▁little', '▁girl']);
    // "pilots": the word and an "s" (a character piece); "é" is not a piece: its UTF-8 bytes.
    expect(tok('pilots é')).toEqual(['▁pilot', 's', '▁', '<0xC3>', '<0xA9>']);
  });

  it('rejects pieces BPE cannot reach, duplicates and missing specials, naming them', () => {
    expect(() => spmVocabFromPieces(['<unk>', '<s>', '</s>', '▁', 'a', 'b', '▁ab'])).toThrow(
      /piece '▁ab' \(id 6\) is not reachable by BPE merges: its characters merge into \['▁', 'a', 'b'\]/,
    );
    expect(() => spmVocabFromPieces(['<unk>', '<s>', '</s>', 'a', 'a'])).toThrow(/piece 'a' appears twice \(ids 3 and 4\)/);
    expect(() => spmVocabFromPieces(['<unk>', '</s>'])).toThrow(/special piece '<s>' is missing/);
  });
});

describe('makeLlamaFolder through the GGUF import path', () => {
  const tmp = tempDir('llama-folder');
  let bytesModel: LlamaFolderSummary;
  let wordModel: LlamaFolderSummary;
  let folder: ModelFolder;
  beforeAll(async () => {
    bytesModel = await makeLlamaFolder(join(tmp.dir, 'bytes'), { ...LLAMA_TINY, seed: 7 });
    wordModel = await makeLlamaFolder(join(tmp.dir, 'words'), { ...LLAMA_TINY, vocab: spmWordPieces(WORDS), seed: 8, ropeTheta: 500, rmsEps: 1e-6 });
    folder = await loadModelFolder(wordModel.dir);
  });
  afterAll(async () => {
    await releaseScoringSessions();
    tmp.cleanup();
  });

  it('writes the imported folder with the asked shape; loadModelFolder finds the Llama sites', () => {
    expect(bytesModel.config).toMatchObject({
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 259,
      bos_token_id: 1,
      eos_token_id: 2,
    });
    expect(wordModel.config).toMatchObject({ rope_theta: 500, rms_norm_eps: 1e-6, vocab_size: wordModel.vocab.length });
    expect(readdirSync(wordModel.dir).sort()).toEqual(['config.json', 'generation_config.json', 'onnx', 'tokenizer.json', 'tokenizer_config.json']);
    const D = 32,
      F = 64,
      V = wordModel.vocab.length;
    expect(wordModel.parameterCount).toBe(2 * V * D + D + 2 * (2 * D * D + 2 * 16 * D + 2 * D + 3 * F * D));
    expect(folder.kind).toBe('decoder-only');
    const names = folder.sites.map((s) => `${s.name}:${s.width}`);
    for (let l = 0; l < 2; l++) {
      const p = `model.layers.${l}`;
      expect(names).toEqual(
        expect.arrayContaining([
          `${p}.self_attn.q_proj:32`,
          `${p}.self_attn.k_proj:16`,
          `${p}.self_attn.v_proj:16`,
          `${p}.self_attn.o_proj:32`,
          `${p}.mlp.gate_proj:64`,
          `${p}.mlp.up_proj:64`,
          `${p}.mlp.down_proj:32`,
        ]),
      );
    }
    expect(folder.sites).toHaveLength(14);
  });

  it('the tokenizer.json (transformers.js) encodes like the SentencePiece rule', () => {
    const v = spmVocabFromGguf(readGguf(wordModel.gguf));
    for (const text of ['The pilot was tired, so', 'The little girl was tired, so she', 'the nurse, the pilot', 'pilots é?']) {
      expect(folder.tokenizer.encode(text), text).toEqual(spmBpeEncode(v, text));
    }
    expect(folder.tokenizer.encode('The pilot').map((i) => wordModel.vocab[i])).toEqual(['<s>', '▁The', '▁pilot']);
  });

  it('ORT logits equal the float64 reference within 1e-4 (byte and word vocabularies)', async () => {
    for (const [m, ids] of [
      [bytesModel, [1, 87, 108, 3, 200, 45, 45, 9]],
      [wordModel, spmBpeEncode(spmVocabFromGguf(readGguf(wordModel.gguf)), 'The pilot was tired, so he')],
    ] as const) {
      const ref = loadReferenceModel(readGguf(m.gguf));
      const want = referenceLogits(ref, [...ids]);
      const s = await createSession(new Uint8Array(readFileSync(join(m.dir, 'onnx/model.onnx'))), { intraOpThreads: 1 });
      try {
        const out = await s.run({
          input_ids: i64([1, ids.length], ids),
          attention_mask: i64(
            [1, ids.length],
            ids.map(() => 1),
          ),
        });
        const got = toNumbers(out.logits!);
        const V = m.vocab.length;
        let worst = 0;
        ids.forEach((_, p) => (worst = Math.max(worst, maxAbsDiff(got.slice(p * V, (p + 1) * V), want[p]!))));
        expect(worst).toBeLessThan(1e-4);
        expect(worst).toBeGreaterThan(0);
        // Random weights of scale 1/sqrt(fan_in) give O(1) logits, not degenerate ones.
        const spread = Math.max(...want.at(-1)!) - Math.min(...want.at(-1)!);
        expect(spread).toBeGreaterThan(1);
      } finally {
        await s.release();
      }
    }
  });

  it('is deterministic: the same seed gives the same bytes, another seed other weights', async () => {
    const again = await makeLlamaFolder(join(tmp.dir, 'again'), { ...LLAMA_TINY, vocab: spmWordPieces(WORDS), seed: 8, ropeTheta: 500, rmsEps: 1e-6 });
    expect(Buffer.from(again.gguf).equals(Buffer.from(wordModel.gguf))).toBe(true);
    for (const f of ['onnx/model.onnx', 'tokenizer.json', 'config.json']) {
      expect(readFileSync(join(again.dir, f)).equals(readFileSync(join(wordModel.dir, f))), f).toBe(true);
    }
    const other = await makeLlamaFolder(join(tmp.dir, 'other'), { ...LLAMA_TINY, vocab: spmWordPieces(WORDS), seed: 9, ropeTheta: 500, rmsEps: 1e-6 });
    expect(readFileSync(join(other.dir, 'onnx/model.onnx')).equals(readFileSync(join(wordModel.dir, 'onnx/model.onnx')))).toBe(false);
    await expect(makeLlamaFolder(join(tmp.dir, 'again'), { ...LLAMA_TINY, seed: 1 })).rejects.toThrow(/already exists/);
    await makeLlamaFolder(join(tmp.dir, 'again'), { ...LLAMA_TINY, seed: 1 }, { overwrite: true });
  });

  it('overrides land unchanged (transposed) in the ONNX initializers, q/k rope order included; F16 linears', async () => {
    const q = Float32Array.from({ length: 32 * 32 }, (_, i) => ((i * 37) % 101) / 64 - 0.75); // exact in float16
    const gate = new Float32Array(64 * 32);
    gate[5 * 32 + 3] = 0.5;
    const calls: string[] = [];
    const m = await makeLlamaFolder(join(tmp.dir, 'override'), {
      ...LLAMA_TINY,
      seed: 3,
      linearType: 'F16',
      weights: (name, shape) => {
        calls.push(`${name}[${shape.join(',')}]`);
        if (name === 'model.layers.1.self_attn.q_proj.weight') return q;
        if (name === 'model.layers.0.mlp.gate_proj.weight') return gate;
        return undefined;
      },
    });
    expect(calls).toContain('model.layers.1.self_attn.q_proj.weight[32,32]');
    expect(calls).toContain('model.layers.0.mlp.down_proj.weight[32,64]');
    expect(calls).toContain('lm_head.weight[259,32]');
    expect(m.import.tensorTypes).toEqual({ F32: 6, F16: 15 }); // embeddings and norms stay F32;
    const onnx = readModel(join(m.dir, 'onnx/model.onnx'));
    const wq = toNumbers(onnx.graph.initializers.get('model.layers.1.self_attn.q_proj.weight')!); // [in, out]
    let worst = 0;
    for (let o = 0; o < 32; o++) for (let i = 0; i < 32; i++) worst = Math.max(worst, Math.abs(wq[i * 32 + o]! - q[o * 32 + i]!));
    expect(worst).toBe(0);
    const wg = toNumbers(onnx.graph.initializers.get('model.layers.0.mlp.gate_proj.weight')!);
    expect(wg[3 * 64 + 5]).toBe(0.5);
    expect(wg.filter((x) => x !== 0)).toHaveLength(1);
    // And the reference (which reads the GGUF in llama.cpp's interleaved order) still agrees.
    const ids = [1, 50, 60, 70, 80];
    const want = referenceLogits(loadReferenceModel(readGguf(m.gguf)), ids);
    const s = await createSession(onnx, { intraOpThreads: 1 });
    try {
      const got = toNumbers((await s.run({ input_ids: i64([1, 5], ids), attention_mask: i64([1, 5], [1, 1, 1, 1, 1]) })).logits!);
      expect(maxAbsDiff(got.slice(4 * 259), want[4]!)).toBeLessThan(1e-4);
    } finally {
      await s.release();
    }
    await expect(
      makeLlamaFolder(join(tmp.dir, 'bad'), { ...LLAMA_TINY, seed: 1, weights: (n) => (n === 'model.norm.weight' ? new Float32Array(3) : undefined) }),
    ).rejects.toThrow(/override for model\.norm\.weight must be a Float32Array of 32 values \(shape \[32\]\), got 3/);
    await expect(makeLlamaFolder(join(tmp.dir, 'bad'), { ...LLAMA_TINY, heads: 3, seed: 1 })).rejects.toThrow(/hidden 32 is not divisible by heads 3/);
  });
});

describe('planted model: one FFN unit raises the answer', () => {
  const tmp = tempDir('llama-planted');
  let m: PlantedLlamaSummary;
  let folder: ModelFolder;
  const prompts = ['The cat sat on the mat', 'One day, the dog ran home.', 'a big red ball', 'The', 'he was tired, so'];
  beforeAll(async () => {
    m = await makePlantedLlamaFolder(join(tmp.dir, 'planted'), { layer: 1, unit: 17, answerToken: ' yes', seed: 3 });
    folder = await loadModelFolder(m.dir);
  });
  afterAll(async () => {
    await releaseScoringSessions();
    tmp.cleanup();
  });
  const items = () => prompts.map((p) => ({ prompt: p, candidates: [[m.planted.answerId]] }));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  it('reports the planted sites and answer', () => {
    expect(m.planted).toMatchObject({
      layer: 1,
      unit: 17,
      answerPiece: '▁yes',
      sites: { gate: 'model.layers.1.mlp.gate_proj', up: 'model.layers.1.mlp.up_proj' },
    });
    expect(m.vocab[m.planted.answerId]).toBe('▁yes');
    for (const s of Object.values(m.planted.sites)) expect(folder.sites.some((x) => x.name === s)).toBe(true);
  });

  it('the answer is the argmax next token on every prompt; masking the unit lowers log P(answer) by several nats', async () => {
    const V = m.vocab.length;
    const all = await scoreOptions(
      folder,
      prompts.map((p) => ({ prompt: p, candidates: Array.from({ length: V }, (_, v) => [v]) })),
      { batchSize: 64 },
    );
    for (const row of all) {
      const best = row.reduce((b, c, i) => (c.logprob > row[b]!.logprob ? i : b), 0);
      expect(m.vocab[best]).toBe('▁yes');
    }
    const base = (await scoreOptions(folder, items())).map((r) => r[0]!.logprob);
    for (const site of [m.planted.sites.gate, m.planted.sites.up]) {
      const mask = new Float32Array(64).fill(1);
      mask[17] = 0;
      const off = (await scoreOptions(folder, items(), { masks: { [site]: mask } })).map((r) => r[0]!.logprob);
      off.forEach((lp, i) => expect(base[i]! - lp, `${site} on "${prompts[i]}"`).toBeGreaterThan(4));
    }
    expect(Math.min(...base)).toBeGreaterThan(Math.log(0.5)); // P(answer) > 0.5 everywhere
    // A random other unit of the same layer barely matters.
    const mask = new Float32Array(64).fill(1);
    mask[18] = 0;
    const other = (await scoreOptions(folder, items(), { masks: { [m.planted.sites.gate]: mask } })).map((r) => r[0]!.logprob);
    expect(Math.max(...other.map((lp, i) => Math.abs(base[i]! - lp)))).toBeLessThan(0.5);
  });

  it('its units have the largest d log P(answer) / d mask of all units of all sites (finite differences)', async () => {
    const eps = 1e-2;
    const base = mean((await scoreOptions(folder, items())).map((r) => r[0]!.logprob));
    const ranked: { key: string; g: number }[] = [];
    for (const site of folder.sites) {
      for (let u = 0; u < site.width; u++) {
        const mask = new Float32Array(site.width).fill(1);
        mask[u] = 1 - eps;
        const lp = mean((await scoreOptions(folder, items(), { masks: { [site.name]: mask } })).map((r) => r[0]!.logprob));
        ranked.push({ key: `${site.name}[${u}]`, g: (base - lp) / eps });
      }
    }
    ranked.sort((a, b) => b.g - a.g);
    expect(
      ranked
        .slice(0, 2)
        .map((r) => r.key)
        .sort(),
    ).toEqual(['model.layers.1.mlp.gate_proj[17]', 'model.layers.1.mlp.up_proj[17]']);
    expect(ranked[1]!.g).toBeGreaterThan(2 * ranked[2]!.g);
  });

  it('rejects bad planting requests', async () => {
    await expect(makePlantedLlamaFolder(join(tmp.dir, 'x'), { layer: 2, unit: 0, answerToken: ' yes' })).rejects.toThrow(/layer 2 is outside 0\.\.1/);
    await expect(makePlantedLlamaFolder(join(tmp.dir, 'x'), { layer: 0, unit: 64, answerToken: ' yes' })).rejects.toThrow(/unit 64 is outside 0\.\.63/);
    await expect(makePlantedLlamaFolder(join(tmp.dir, 'x'), { layer: 0, unit: 0, answerToken: ' maybe' })).rejects.toThrow(
      /answer token '▁maybe' is not in the vocabulary/,
    );
    await expect(makePlantedLlamaFolder(join(tmp.dir, 'x'), { layer: 0, unit: 0, answerToken: 1 })).rejects.toThrow(/'<s>' is a special or byte piece/);
  });
});
