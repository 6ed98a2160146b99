/**
 * A word-level tokenizer.json (tokenizers' WordLevel model) for small models trained here: every
 * word of a fixed vocabulary is one token, text is lowercased and split into words and punctuation
 * runs (the Whitespace pre-tokenizer: \w+ | [^\w\s]+), and "</s>" is appended as T5 does. Special
 * ids follow T5: 0 <pad>, 1 </s>, 2 <unk>. Both Hugging Face tokenizers and transformers.js load it
 * (transformers.js reads a WordLevel model as a plain token -> id map).
 */
import { APPEND_EOS, specialTokens } from './t5-tokenizer.js';

export const WORD_SPECIALS = ['<pad>', '</s>', '<unk>'] as const;

/** The words and punctuation runs the Whitespace pre-tokenizer makes of lowercased `text`. */
export function wordPieces(text: string): string[] {
  return text.toLowerCase().match(/\w+|[^\w\s]+/gu) ?? [];
}

/** Sorted distinct pieces of the texts (the vocabulary a word tokenizer needs to cover them). */
export function collectWordVocabulary(texts: Iterable<string>): string[] {
  const set = new Set<string>();
  for (const t of texts) for (const p of wordPieces(t)) set.add(p);
  return [...set].sort();
}

/** tokenizer.json for `words` (ids 3.. in the given order after the three specials). */
export function wordLevelTokenizer(words: readonly string[]): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  WORD_SPECIALS.forEach((s, i) => (vocab[s] = i));
  for (const w of words) {
    if (w in vocab) throw new Error(`word tokenizer: '${w}' is listed twice (or is a special token)`);
    if (wordPieces(w).length !== 1 || wordPieces(w)[0] !== w) throw new Error(`word tokenizer: '${w}' is not one lowercase word or punctuation run`);
    vocab[w] = Object.keys(vocab).length;
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialTokens(WORD_SPECIALS),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: APPEND_EOS,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: '<unk>' },
  };
}
