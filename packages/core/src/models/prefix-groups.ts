/**
 * Prompts that share a prefix run it once. BBQ prompts under one instruction come in families: the
 * four items of a template share the instruction and the ambiguous context (the disambiguated
 * context extends it), two of them the whole context, and differ in the question. A decoder-only
 * model with a key/value cache can run each family's common prefix once and every prompt's
 * remainder on top of it; causality makes the result exact.
 *
 * groupByPrefix chooses the families: prompts sorted by their tokens, cut into contiguous groups
 * so that the tokens run (each group's common prefix once, plus every member's remainder) are
 * fewest; a group of one runs its whole prompt as the prefix. Remainders run padded to the
 * longest in a batch, so a group's prefix must cover MIN_SHARE of its longest member: on BBQ
 * Religion under the paper's template (stories260K's tokenizer, batches of 16) that keeps 65% of
 * the padded tokens (0.5: 72%; unbounded: 80%, the remainders' padding eating the savings).
 */

export interface PrefixGroup {
  /** Tokens shared by every member (a member may equal the prefix entirely). */
  prefixLength: number;
  /** Indices into the prompts given. */
  members: number[];
}

/** Longest span of sorted prompts one group may take (bounds the search to O(n * MAX_SPAN)). */
const MAX_SPAN = 64;
/** Share of its longest member's tokens that a group's common prefix must cover. */
export const MIN_SHARE = 0.6;

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let k = 0;
  while (k < n && a[k] === b[k]) k++;
  return k;
}

function compareTokens(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  for (let k = 0; k < n; k++) if (a[k] !== b[k]) return a[k]! - b[k]!;
  return a.length - b.length;
}

/** Groups that minimise the tokens run (exact over contiguous groups of the sorted prompts). */
export function groupByPrefix(prompts: readonly (readonly number[])[], minShare = MIN_SHARE): PrefixGroup[] {
  const n = prompts.length;
  if (!n) return [];
  const order = prompts.map((_, i) => i).sort((a, b) => compareTokens(prompts[a]!, prompts[b]!) || a - b);
  const len = order.map((i) => prompts[i]!.length);
  // lcp[k]: tokens shared by the sorted prompts k - 1 and k.
  const lcp = order.map((i, k) => (k ? commonPrefix(prompts[order[k - 1]!]!, prompts[i]!) : 0));
  // cost[j]: fewest tokens for the first j sorted prompts; cut[j]: where the last group starts.
  const cost = new Float64Array(n + 1);
  const cut = new Int32Array(n + 1);
  for (let j = 1; j <= n; j++) {
    // A group [i, j) runs its shared prefix L once and every member's tokens past L.
    let shared = len[j - 1]!;
    let longest = 0;
    let total = 0;
    cost[j] = Infinity;
    for (let i = j - 1; i >= Math.max(0, j - MAX_SPAN); i--) {
      if (i < j - 1) shared = Math.min(shared, lcp[i + 1]!);
      longest = Math.max(longest, len[i]!);
      total += len[i]!;
      // Remainders run padded to the longest: a group must share most of its prompts.
      if (i < j - 1 && shared < minShare * longest) break;
      const c = cost[i]! + total - (j - i - 1) * shared;
      if (c < cost[j]!) {
        cost[j] = c;
        cut[j] = i;
      }
    }
  }
  const groups: PrefixGroup[] = [];
  for (let j = n; j > 0; j = cut[j]!) {
    const i = cut[j]!;
    let shared = len[j - 1]!;
    for (let k = i + 1; k < j; k++) shared = Math.min(shared, lcp[k]!);
    if (j - i === 1) shared = len[i]!;
    groups.push({ prefixLength: shared, members: order.slice(i, j) });
  }
  return groups.reverse();
}

/**
 * Chunks of at most `size` prompts made of whole groups where they fit (a larger group is split,
 * its prefix then runs once per chunk), longest prefixes first so that a chunk pads little.
 */
export function prefixChunks(groups: readonly PrefixGroup[], size: number): PrefixGroup[][] {
  const sorted = [...groups].sort((a, b) => b.prefixLength - a.prefixLength || a.members[0]! - b.members[0]!);
  const chunks: PrefixGroup[][] = [];
  let current: PrefixGroup[] = [];
  let count = 0;
  for (const g of sorted) {
    for (let at = 0; at < g.members.length; ) {
      if (count === size) {
        chunks.push(current);
        current = [];
        count = 0;
      }
      const take = g.members.slice(at, at + size - count);
      current.push({ prefixLength: g.prefixLength, members: take });
      count += take.length;
      at += take.length;
    }
  }
  if (current.length) chunks.push(current);
  return chunks;
}

/** Cost of running chunks: padded tokens of both passes, and the attention area (queries x keys). */
export function chunkCost(chunks: readonly PrefixGroup[][], lengths: readonly number[]): { tokens: number; attention: number } {
  let tokens = 0;
  let attention = 0;
  for (const chunk of chunks) {
    const Ps = Math.max(...chunk.map((g) => g.prefixLength));
    const rows = chunk.reduce((a, g) => a + g.members.length, 0);
    const Pr = Math.max(...chunk.flatMap((g) => g.members.map((m) => lengths[m]! - g.prefixLength)));
    tokens += chunk.length * Ps + (Pr > 0 ? rows * Pr : 0);
    attention += chunk.length * Ps * Ps + (Pr > 0 ? rows * Pr * (Ps + Pr) : 0);
  }
  return { tokens, attention };
}

/**
 * The chunks to run: prompts grouped by shared prefix where that saves work, else every prompt on
 * its own, longest first (a random half of a BBQ category keeps few whole families, and the
 * remainders' padding can then cost more than the shared prefixes save).
 */
export function planPrefixChunks(prompts: readonly (readonly number[])[], size: number): PrefixGroup[][] {
  const lengths = prompts.map((p) => p.length);
  const alone = prefixChunks(
    prompts.map((p, i) => ({ prefixLength: p.length, members: [i] })),
    size,
  );
  const grouped = prefixChunks(groupByPrefix(prompts), size);
  const a = chunkCost(alone, lengths);
  const g = chunkCost(grouped, lengths);
  return g.tokens <= 0.85 * a.tokens && g.attention <= a.attention ? grouped : alone;
}
