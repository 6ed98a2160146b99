/**
 * Length guards: every prompt + candidate is measured in tokens against the model's context
 * length before any session is built, so that an over-long item is named up front instead of
 * surfacing as an out-of-memory request or a raw ORT error deep in a stage. `--truncate left`
 * or `right` cuts the prompt's text (left: keep its end, where the question is) until every
 * candidate fits.
 */
import { UserError, type McItem } from '@crispr-bench/core';
import type { AttributionExample } from '@crispr-bench/core';

export type Truncate = 'left' | 'right' | 'error';

export interface ContextLimit {
  tokens: number;
  /** Where the number came from, for messages (`config.json max_position_embeddings`). */
  source: string;
}

/**
 * The hard context length a config declares, or null. T5-style models use relative position
 * buckets and have no hard limit, even though their configs often carry `n_positions`.
 */
export function contextLimit(config: Record<string, unknown>): ContextLimit | null {
  if (config.relative_attention_num_buckets !== undefined || config.model_type === 't5' || config.model_type === 'mt5') return null;
  for (const key of ['max_position_embeddings', 'n_positions', 'n_ctx', 'max_sequence_length']) {
    const v = config[key];
    if (typeof v === 'number' && Number.isInteger(v) && v > 0) return { tokens: v, source: `config.json ${key}` };
  }
  return null;
}

/** Tokens a prompt/candidate pair occupies on the model's longest position axis. */
export function pairLength(kind: 'seq2seq' | 'decoder-only', ex: AttributionExample): number {
  return kind === 'seq2seq' ? Math.max(ex.promptIds.length, ex.targetIds.length) : ex.promptIds.length + ex.targetIds.length;
}

export interface LengthModel {
  kind: 'seq2seq' | 'decoder-only';
  encode(prompt: string, candidate: string): AttributionExample;
}

interface Over {
  item: McItem;
  instruction: string;
  candidate: string;
  tokens: number;
}

function itemName(item: McItem): string {
  return `${item.category}/${item.id}`;
}

/**
 * The prompts of `indices` under one instruction, checked (and with `truncate`, cut) to fit
 * `limit`. Throws a UserError naming the items that do not fit.
 */
export function fitPrompts(
  model: LengthModel,
  items: readonly McItem[],
  indices: readonly number[],
  instruction: string,
  prompt: (item: McItem) => string,
  candidates: (item: McItem) => string[],
  limit: ContextLimit | null,
  truncate: Truncate,
  notes: string[],
): Map<number, string> {
  const out = new Map<number, string>();
  const over: Over[] = [];
  const longest = (p: string, cands: string[]): { tokens: number; candidate: string } => {
    let best = { tokens: 0, candidate: '' };
    for (const c of cands) {
      const n = pairLength(model.kind, model.encode(p, c));
      if (n > best.tokens) best = { tokens: n, candidate: c };
    }
    return best;
  };
  let cut = 0;
  let firstCut = '';
  for (const i of indices) {
    const item = items[i]!;
    const p = prompt(item);
    const cands = candidates(item);
    if (!limit) {
      out.set(i, p);
      continue;
    }
    const l = longest(p, cands);
    if (l.tokens <= limit.tokens) {
      out.set(i, p);
      continue;
    }
    if (truncate === 'error') {
      over.push({ item, instruction, candidate: l.candidate, tokens: l.tokens });
      continue;
    }
    // The longest prefix (right) or suffix (left) of the text whose every candidate fits; token
    // counts grow with the text kept, so a binary search finds it in a few encodings.
    const keep = (k: number) => (truncate === 'left' ? p.slice(p.length - k) : p.slice(0, k));
    const fits = (k: number) => {
      try {
        return longest(keep(k), cands).tokens <= limit.tokens;
      } catch {
        return false; // e.g. an empty prompt for a decoder-only model
      }
    };
    // Start from the share of the text the limit allows (tokens per character are nearly even),
    // so the search runs on short texts over a narrow range.
    const guess = Math.floor((p.length * limit.tokens) / l.tokens);
    let lo = 0;
    let hi = p.length;
    if (fits(guess)) [lo, hi] = [guess, Math.min(p.length, Math.ceil(guess * 1.05) + 8)];
    else hi = guess - 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (fits(mid)) lo = mid;
      else hi = mid - 1;
    }
    if (lo === 0 || !fits(lo))
      throw new UserError(
        `item ${itemName(item)} under instruction '${instruction}': even with the prompt cut to nothing, candidate ${JSON.stringify(l.candidate.slice(0, 60))} does not fit the context length of ${limit.tokens} tokens (${limit.source})`,
      );
    out.set(i, keep(lo));
    if (!cut++) firstCut = `item ${itemName(item)}: ${l.tokens} tokens, cut to ${lo} of ${p.length} characters`;
  }
  if (over.length) {
    const show = over
      .slice(0, 5)
      .map(
        (o) => `  item ${itemName(o.item)} under instruction '${o.instruction}' with candidate ${JSON.stringify(o.candidate.slice(0, 40))}: ${o.tokens} tokens`,
      );
    throw new UserError(
      `${over.length} item(s) are longer than the model's context length of ${limit!.tokens} tokens (${limit!.source}):\n${show.join('\n')}${over.length > 5 ? `\n  ... and ${over.length - 5} more` : ''}\n` +
        'Pass --truncate left (keep the end of the prompt) or --truncate right (keep its start), or remove these items.',
    );
  }
  if (cut) notes.push(`--truncate ${truncate}: cut ${cut} prompt(s) under instruction '${instruction}' to fit ${limit!.tokens} tokens (first: ${firstCut})`);
  return out;
}
