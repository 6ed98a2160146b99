/**
 * Scoring many items in chunks, with progress after each. The chunks are cut from the items
 * sorted by prompt, so that prompts sharing a prefix (a BBQ template's family under one
 * instruction: the same context, different questions) reach the scorer together and a
 * decoder-only model runs their prefix once. Results come back in the order given.
 */
import type { ModelAccess } from './model-access.js';

/** Items per scorer call: a progress step, and the span within which prompts share prefixes. */
export const SCORE_CHUNK = 64;

export interface ScoreRequest {
  prompt: string | number[];
  candidates: (string | number[])[];
}

const sortKey = (p: string | number[]) => (typeof p === 'string' ? p : String.fromCharCode(...p.map((t) => t % 65536)));

export async function scoreInChunks(
  scorer: Pick<ModelAccess, 'score' | 'scoreParallel'>,
  requests: readonly ScoreRequest[],
  masks: Record<string, Float32Array> | undefined,
  onChunk: (done: number, total: number) => void = () => {},
): Promise<number[][]> {
  const keys = requests.map((r) => sortKey(r.prompt));
  const order = requests.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : a - b));
  const out = new Array<number[]>(requests.length);
  const chunks: number[][] = [];
  for (let off = 0; off < order.length; off += SCORE_CHUNK) chunks.push(order.slice(off, off + SCORE_CHUNK));
  // As many chunks in flight as the scorer runs side by side (a pool of workers).
  let next = 0;
  let done = 0;
  const lane = async () => {
    while (next < chunks.length) {
      const part = chunks[next++]!;
      const lps = await scorer.score(
        part.map((i) => requests[i]!),
        masks,
      );
      part.forEach((i, r) => {
        out[i] = lps[r]!;
      });
      done += part.length;
      onChunk(done, order.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(scorer.scoreParallel ?? 1, chunks.length)) }, lane));
  return out;
}
