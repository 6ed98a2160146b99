/**
 * Keys and values of many prompts through a decoder-only model's cache graph, every shared prefix
 * run once. BBQ prompts under one instruction share the instruction, and a template's family shares
 * its context too (the disambiguated context extends the ambiguous one); on a random half of BBQ
 * Religion under the paper's template, the distinct prefixes are half of all prompt tokens.
 *
 * Prompts run in segments of `segment` tokens, each on the cache of the one before. A segment runs one row per distinct prefix
 * up to its end: prompts that agree so far share a row, and a row continues the row of its prefix
 * in the segment before (segmentPlan). A prompt's cache is the row of the segment where it ends:
 * its tokens, then padding to the segment's width; the mask marks its tokens and the positions
 * (cumsum of the mask) are the prompt's own, so every later pass on it equals one on the prompt
 * alone.
 */
import type { Tensor } from '../onnx/types.js';
import type { ModelSession } from '../runtime/session.js';
import { emptyPast, pastFor, rowsOf, type CacheGraph } from './cache.js';

/**
 * Tokens per prompt pass; longer prompts run in segments (see promptCaches). Shorter segments share
 * more prefixes (on the test half of BBQ Religion, stories260K's tokens: 60% of them run at 32, 69%
 * at 64) and skip more of causal attention's masked half, but every pass reads and writes its rows'
 * whole cache again. Scoring that test half on two single-threaded workers: 64 fastest (about 130
 * prompts/s), 32 and 48 within 10%, 128 20% slower.
 */
export const PREFILL_SEGMENT = 64;

/** Cached keys and values of the prompts run together (sharing prefixes), at most this many bytes. */
export const PROMPT_BLOCK_BYTES = 256 * 2 ** 20;

export interface PromptCacheChunk {
  /** Indices into the prompts given, in row order. */
  members: number[];
  /** present.* per layer, [members, heads, width, head_dim]. */
  present: Record<string, Tensor>;
  /** [members, width]: 1 where a slot holds one of the prompt's tokens. */
  mask: BigInt64Array;
  width: number;
}

/** One segment of the prompts: rows of distinct prefixes, and the prompts that end in it. */
export interface PromptSegment {
  /** Position of the segment's first token. */
  start: number;
  /** Each row continues row `parent` of the segment before (-1 in the first) with `tokens`. */
  rows: { parent: number; tokens: number[] }[];
  /** Prompts whose last token is in this segment, and the row holding them. */
  ends: { prompt: number; row: number }[];
}

/** The segments that run `prompts` with every shared prefix once (prompts of no tokens appear in none). */
export function segmentPlan(prompts: readonly (readonly number[])[], segment: number): PromptSegment[] {
  if (!Number.isInteger(segment) || segment < 1) throw new Error(`promptCaches: segment must be a positive integer, got ${segment}`);
  const plan: PromptSegment[] = [];
  let rowOf = prompts.map(() => -1);
  const longest = Math.max(0, ...prompts.map((p) => p.length));
  for (let start = 0; start < longest; start += segment) {
    const keys = new Map<string, number>();
    const seg: PromptSegment = { start, rows: [], ends: [] };
    const next = prompts.map(() => -1);
    prompts.forEach((p, i) => {
      if (p.length <= start) return;
      const tokens = p.slice(start, start + segment);
      // A row that continues is full, so rows agree on their whole prefix exactly when their parents and tokens do.
      const key = `${rowOf[i]}|${tokens.join(',')}`;
      let r = keys.get(key);
      if (r === undefined) {
        r = seg.rows.length;
        keys.set(key, r);
        seg.rows.push({ parent: rowOf[i]!, tokens });
      }
      next[i] = r;
      if (p.length <= start + segment) seg.ends.push({ prompt: i, row: r });
    });
    plan.push(seg);
    rowOf = next;
  }
  return plan;
}

function compareTokens(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let k = 0; k < n; k++) if (a[k] !== b[k]) return a[k]! - b[k]!;
  return a.length - b.length;
}

/**
 * Runs `prompts` (token ids; an empty one is allowed), at most `maxRows` rows per ORT run.
 * Prompts sorted by their tokens run together in blocks of at most PROMPT_BLOCK_BYTES of cache
 * (at least `maxRows` prompts). `session` runs the cache graph with present.* outputs; `feeds` are
 * extra inputs (site masks).
 */
export async function* promptCaches(
  c: CacheGraph,
  session: ModelSession,
  prompts: readonly number[][],
  maxRows: number,
  pad: number,
  feeds: Record<string, Tensor> = {},
  segment = PREFILL_SEGMENT,
): AsyncGenerator<PromptCacheChunk> {
  if (!Number.isInteger(segment) || segment < 1) throw new Error(`promptCaches: segment must be a positive integer, got ${segment}`);
  const presentNames = c.layers.flatMap((l) => [l.presentKey, l.presentValue]);
  const empty = prompts.flatMap((p, i) => (p.length ? [] : [i]));
  if (empty.length) {
    const present = Object.fromEntries(
      presentNames.map((name) => [name, { dtype: 'float32', dims: [empty.length, c.heads, 0, c.headDim], data: new Float32Array(0) } as Tensor]),
    );
    yield { members: empty, present, mask: new BigInt64Array(0), width: 0 };
  }
  const order = prompts
    .map((_, i) => i)
    .filter((i) => prompts[i]!.length)
    .sort((a, b) => compareTokens(prompts[a]!, prompts[b]!) || a - b);
  const bytesPerToken = c.layers.length * 2 * c.heads * c.headDim * 4;
  for (let at = 0; at < order.length; ) {
    const block: number[] = [];
    let longest = 0;
    while (at < order.length) {
      const len = Math.max(longest, prompts[order[at]!]!.length);
      if (block.length >= maxRows && (block.length + 1) * len * bytesPerToken > PROMPT_BLOCK_BYTES) break;
      block.push(order[at++]!);
      longest = len;
    }
    const blockPrompts = block.map((i) => prompts[i]!);
    // The segment before: its runs' present tensors, row blocks one after the other.
    let prev: Record<string, Tensor[]> = {};
    for (const seg of segmentPlan(blockPrompts, segment)) {
      const w = Math.max(...seg.rows.map((r) => r.tokens.length));
      const s0 = seg.start;
      const parts: Record<string, Tensor>[] = [];
      for (let o = 0; o < seg.rows.length; o += maxRows) {
        const sub = seg.rows.slice(o, o + maxRows);
        const g = sub.length;
        const ids = new BigInt64Array(g * w).fill(BigInt(pad));
        const attn = new BigInt64Array(g * (s0 + w));
        sub.forEach((r, k) => {
          // Every row that continues is full: its past is all real tokens.
          attn.fill(1n, k * (s0 + w), k * (s0 + w) + s0 + r.tokens.length);
          r.tokens.forEach((t, i) => (ids[k * w + i] = BigInt(t)));
        });
        parts.push(
          await session.run(
            {
              input_ids: { dtype: 'int64', dims: [g, w], data: ids },
              attention_mask: { dtype: 'int64', dims: [g, s0 + w], data: attn },
              ...(s0 === 0
                ? emptyPast(c, g)
                : pastFor(
                    c,
                    prev,
                    sub.map((r) => r.parent),
                  )),
              ...feeds,
            },
            presentNames,
          ),
        );
      }
      const present = Object.fromEntries(presentNames.map((name) => [name, parts.map((p) => p[name]!)]));
      if (seg.ends.length) {
        const width = s0 + w;
        const mask = new BigInt64Array(seg.ends.length * width);
        seg.ends.forEach((e, k) => mask.fill(1n, k * width, k * width + blockPrompts[e.prompt]!.length));
        const rows = seg.ends.map((e) => e.row);
        yield {
          members: seg.ends.map((e) => block[e.prompt]!),
          present: Object.fromEntries(presentNames.map((name) => [name, rowsOf(present[name]!, rows)])),
          mask,
          width,
        };
      }
      prev = present;
    }
  }
}
