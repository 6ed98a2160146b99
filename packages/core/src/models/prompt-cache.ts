/**
 * Keys and values of many prompts through a decoder-only model's cache graph, prompts that share a
 * prefix running it once where that saves work (planPrefixChunks): per chunk, one pass over the groups' shared prefixes,
 * then one pass over every prompt's remainder on its group's keys and values. A prompt's cache
 * then holds [group prefix, padding, remainder, padding]; the mask marks its tokens, and the
 * positions (cumsum of the mask) are those of the prompt alone, so every later pass on this cache
 * equals one on the prompt's own.
 */
import type { Tensor } from '../onnx/types.js';
import type { ModelSession } from '../runtime/session.js';
import { emptyPast, pastFor, rowsOf, type CacheGraph } from './cache.js';
import { planPrefixChunks } from './prefix-groups.js';

/** Tokens per prompt pass; longer prompts run in segments (see promptCaches). */
export const PREFILL_SEGMENT = 64;

export interface PromptCacheChunk {
  /** Indices into the prompts given, in row order. */
  members: number[];
  /** present.* per layer, [members, heads, width, head_dim]. */
  present: Record<string, Tensor>;
  /** [members, width]: 1 where a slot holds one of the prompt's tokens. */
  mask: BigInt64Array;
  width: number;
}

function padded(rows: number[][], pad: number): { ids: BigInt64Array; mask: BigInt64Array; width: number } {
  const width = Math.max(0, ...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * width).fill(BigInt(pad));
  const mask = new BigInt64Array(rows.length * width);
  rows.forEach((r, k) =>
    r.forEach((t, i) => {
      ids[k * width + i] = BigInt(t);
      mask[k * width + i] = 1n;
    }),
  );
  return { ids, mask, width };
}

/**
 * Runs `prompts` (token ids; an empty one is allowed) in chunks of at most `chunkSize` prompts.
 * `session` runs the cache graph with present.* outputs; `feeds` are extra inputs (site masks).
 */
export async function* promptCaches(
  c: CacheGraph,
  session: ModelSession,
  prompts: readonly number[][],
  chunkSize: number,
  pad: number,
  feeds: Record<string, Tensor> = {},
  segment = PREFILL_SEGMENT,
): AsyncGenerator<PromptCacheChunk> {
  if (!Number.isInteger(segment) || segment < 1) throw new Error(`promptCaches: segment must be a positive integer, got ${segment}`);
  const presentNames = c.layers.flatMap((l) => [l.presentKey, l.presentValue]);
  const empty = (n: number): Record<string, Tensor> =>
    Object.fromEntries(presentNames.map((name) => [name, { dtype: 'float32', dims: [n, c.heads, 0, c.headDim], data: new Float32Array(0) } as Tensor]));
  for (const groups of planPrefixChunks(prompts, chunkSize)) {
    const members = groups.flatMap((g) => g.members);
    const groupOf = groups.flatMap((g, k) => g.members.map(() => k));
    // Pass 1: each group's shared prefix.
    const shared = padded(
      groups.map((g) => prompts[g.members[0]!]!.slice(0, g.prefixLength)),
      pad,
    );
    const Ps = shared.width;
    const G = groups.length;
    let groupPresent = empty(G);
    // In segments, each on the cache of the ones before: causal attention then skips most of its
    // masked half (segments of S tokens over L compute about (L + S) / 2L of the dense scores).
    const all = Array.from({ length: G }, (_, k) => k);
    for (let s0 = 0; s0 < Ps; s0 += segment) {
      const w = Math.min(segment, Ps - s0);
      const ids = new BigInt64Array(G * w);
      const attn = new BigInt64Array(G * (s0 + w));
      for (let k = 0; k < G; k++) {
        ids.set(shared.ids.subarray(k * Ps + s0, k * Ps + s0 + w), k * w);
        attn.set(shared.mask.subarray(k * Ps, k * Ps + s0 + w), k * (s0 + w));
      }
      groupPresent = await session.run(
        {
          input_ids: { dtype: 'int64', dims: [G, w], data: ids },
          attention_mask: { dtype: 'int64', dims: [G, s0 + w], data: attn },
          ...(s0 === 0 ? emptyPast(c, G) : pastFor(c, groupPresent, all)),
          ...feeds,
        },
        presentNames,
      );
    }
    // Pass 2: every prompt's remainder on its group's keys and values.
    const rest = padded(
      groups.flatMap((g) => g.members.map((m) => prompts[m]!.slice(g.prefixLength))),
      pad,
    );
    const Pr = rest.width;
    const width = Ps + Pr;
    const mask = new BigInt64Array(members.length * width);
    groupOf.forEach((k, r) => {
      mask.set(shared.mask.subarray(k * Ps, (k + 1) * Ps), r * width);
      mask.set(rest.mask.subarray(r * Pr, (r + 1) * Pr), r * width + Ps);
    });
    let present: Record<string, Tensor>;
    if (Pr > 0) {
      present = await session.run(
        {
          input_ids: { dtype: 'int64', dims: [members.length, Pr], data: rest.ids },
          attention_mask: { dtype: 'int64', dims: [members.length, width], data: mask },
          ...pastFor(c, groupPresent, groupOf),
          ...feeds,
        },
        presentNames,
      );
    } else present = Object.fromEntries(presentNames.map((name) => [name, rowsOf(groupPresent[name]!, groupOf)]));
    yield { members, present, mask, width };
  }
}
