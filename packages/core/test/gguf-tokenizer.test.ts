import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { readGguf } from '../src/gguf/reader.js';
import { spmBpeEncode, spmDecode, spmMerges, spmToHfTokenizer, spmVocabFromGguf, SpmTokenType, type SpmVocab } from '../src/gguf/tokenizer.js';

const ASSETS = process.env.CRISPR_ASSETS ?? resolve(__dirname, '../../../../shared/assets');
const STORIES = join(ASSETS, 'models/stories260K/stories260K.gguf');
const BBQ = join(ASSETS, 'bbq/data');

/** A hand-made vocabulary where the BPE order matters: "ab" beats "bc", "abc" exists. */
function toyVocab(): SpmVocab {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [SpmTokenType.UNKNOWN, SpmTokenType.CONTROL, SpmTokenType.CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(SpmTokenType.BYTE);
  }
  const pieces: [string, number][] = [
    ['▁', -1],
    ['a', -2],
    ['b', -3],
    ['c', -4],
    ['ab', -5],
    ['bc', -6],
    ['abc', -7],
    ['▁ab', -8],
  ];
  const scores = tokens.map(() => 0);
  for (const [p, s] of pieces) {
    tokens.push(p);
    types.push(SpmTokenType.NORMAL);
    scores.push(s);
  }
  return { tokens, scores, types, bosId: 1, eosId: 2, unkId: 0, padId: null, addBos: true, addEos: false, addDummyPrefix: true };
}

describe('SentencePiece BPE encoder on a hand-made vocabulary', () => {
  const v = toyVocab();
  const id = (t: string) => v.tokens.indexOf(t);
  it('merges the best-scoring pair first and falls back to bytes', () => {
    // "▁abc": pairs ▁a (none), ab (-5), bc (-6) -> "ab" first; then ▁+ab = "▁ab" (-8) vs ab+c = "abc" (-7) -> "abc".
    expect(spmBpeEncode(v, 'abc')).toEqual([1, id('▁'), id('abc')]);
    // "▁bc" -> bc, then ▁bc is not a piece.
    expect(spmBpeEncode(v, 'bc', { addBos: false })).toEqual([id('▁'), id('bc')]);
    // "é" is not a piece: its two UTF-8 bytes C3 A9.
    expect(spmBpeEncode(v, 'é', { addBos: false })).toEqual([id('▁'), id('<0xC3>'), id('<0xA9>')]);
    expect(spmDecode(v, spmBpeEncode(v, 'é ab'))).toBe('é ab');
    expect(spmBpeEncode(v, '')).toEqual([1]);
  });
  it('splits the text at word starts only when no piece holds "▁" past its first character', () => {
    expect((spmToHfTokenizer(v).tokenizer as { pre_tokenizer: unknown }).pre_tokenizer).toEqual({
      type: 'Split',
      pattern: { Regex: '▁[^▁]*' },
      behavior: 'Isolated',
      invert: false,
    });
    const spanning: SpmVocab = { ...v, tokens: [...v.tokens, 'a▁b'], scores: [...v.scores, -20], types: [...v.types, SpmTokenType.NORMAL] };
    expect((spmToHfTokenizer(spanning).tokenizer as { pre_tokenizer: unknown }).pre_tokenizer).toBeNull();
  });
  it('derives merges ranked by the merged piece score', () => {
    expect(spmMerges(v)).toEqual([
      ['a', 'b'],
      ['b', 'c'],
      ['a', 'bc'],
      ['ab', 'c'],
      ['▁', 'ab'],
    ]);
  });
});

describe.skipIf(!existsSync(STORIES))(`stories260K tokenizer conversion (needs ${STORIES})`, () => {
  let dir: string;
  let vocab: SpmVocab;
  let tok: Awaited<ReturnType<typeof AutoTokenizer.from_pretrained>>;

  beforeAll(async () => {
    vocab = spmVocabFromGguf(readGguf(STORIES));
    dir = mkdtempSync(join(tmpdir(), 'crispr-gguf-tok-'));
    const files = spmToHfTokenizer(vocab, { modelMaxLength: 2048 });
    mkdirSync(join(dir, 'stories-tok'));
    writeFileSync(join(dir, 'stories-tok', 'tokenizer.json'), JSON.stringify(files.tokenizer));
    writeFileSync(join(dir, 'stories-tok', 'tokenizer_config.json'), JSON.stringify(files.config));
    env.allowRemoteModels = false;
    env.localModelPath = dir;
    tok = await AutoTokenizer.from_pretrained('stories-tok', { local_files_only: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const pieces = (ids: number[]) => ids.map((i) => vocab.tokens[i]);

  it('reads the vocabulary: 512 pieces, byte fallback, BOS 1, EOS 2; words split apart for the tokenizer', () => {
    // stories260K has no piece that spans a word start, so the tokenizer may work word by word
    // (and the tests below compare it with SentencePiece BPE over the whole text).
    expect((spmToHfTokenizer(vocab).tokenizer as { pre_tokenizer: { type: string } | null }).pre_tokenizer?.type).toBe('Split');
    expect(vocab.tokens).toHaveLength(512);
    expect(vocab.bosId).toBe(1);
    expect(vocab.eosId).toBe(2);
    expect(vocab.unkId).toBe(0);
    expect(vocab.padId).toBeNull();
    expect(vocab.tokens[3]).toBe('<0x00>');
    expect(vocab.types.filter((t) => t === SpmTokenType.BYTE)).toHaveLength(256);
  });

  it('AutoTokenizer encodes the probe prompts exactly as SentencePiece BPE does, and decodes back', () => {
    const once = spmBpeEncode(vocab, 'Once upon a time');
    expect(pieces(once)).toEqual(['<s>', '▁Once', '▁upon', '▁a', '▁time']);
    const pilot = spmBpeEncode(vocab, 'The pilot was tired, so');
    expect(pieces(pilot)).toEqual(['<s>', '▁The', '▁p', 'il', 'ot', '▁was', '▁t', 'ir', 'ed', ',', '▁so']);
    for (const [text, ids] of [
      ['Once upon a time', once],
      ['The pilot was tired, so', pilot],
    ] as const) {
      expect(tok.encode(text)).toEqual(ids);
      expect(tok.decode(ids, { skip_special_tokens: true })).toBe(text);
      expect(spmDecode(vocab, ids)).toBe(text);
    }
    expect(tok.bos_token_id).toBe(1);
    expect(tok.eos_token_id).toBe(2);
  });

  it('matches SentencePiece BPE on edge cases and on BBQ sentences, token for token', () => {
    const texts = ['', ' leading space', 'two  spaces and trailing ', 'line\nbreak\ttab', 'naïve café, 😀 emoji and 日本語', 'Lily said, "Hello!" 123 4567.'];
    if (existsSync(BBQ)) {
      for (const f of readdirSync(BBQ)
        .filter((x) => x.endsWith('.jsonl'))
        .sort()) {
        const lines = readFileSync(join(BBQ, f), 'utf8').split('\n').filter(Boolean).slice(0, 24);
        for (const line of lines) {
          const item = JSON.parse(line) as { context: string; question: string; ans0: string; ans1: string; ans2: string };
          texts.push(item.context, item.question, item.ans0, item.ans1, item.ans2);
        }
      }
    }
    const mismatches: string[] = [];
    for (const t of texts) {
      const direct = spmBpeEncode(vocab, t);
      const viaHf = tok.encode(t);
      if (direct.join() !== viaHf.join()) mismatches.push(t);
      if (spmDecode(vocab, direct) !== t) mismatches.push(`decode: ${t}`);
      if (tok.decode(viaHf, { skip_special_tokens: true }) !== t) mismatches.push(`hf decode: ${t}`);
    }
    expect(texts.length).toBeGreaterThan(100);
    expect(mismatches).toEqual([]);
  });

  it('writes a LlamaTokenizer config without clean-up of spaces', () => {
    const files = spmToHfTokenizer(vocab);
    expect(files.config).toMatchObject({
      tokenizer_class: 'LlamaTokenizer',
      bos_token: '<s>',
      eos_token: '</s>',
      unk_token: '<unk>',
      add_bos_token: true,
      clean_up_tokenization_spaces: false,
    });
    const model = files.tokenizer.model as { type: string; byte_fallback: boolean; merges: unknown[] };
    expect(model.type).toBe('BPE');
    expect(model.byte_fallback).toBe(true);
    // " ," would be rewritten to "," by clean-up; the pieces must decode verbatim.
    const ids = spmBpeEncode(vocab, 'a , b .', { addBos: false });
    expect(tok.decode(ids)).toBe('a , b .');
  });
});
