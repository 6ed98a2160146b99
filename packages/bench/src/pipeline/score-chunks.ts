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
  scorer: Pick<ModelAccess, 'score'>,
  requests: readonly ScoreRequest[],
  masks: Record<string, Float32Array> | undefined,
  onChunk: (done: number, total: number) => void = () => {},
): Promise<number[][]> {
  const keys = requests.map((r) => sortKey(r.prompt));
  const order = requests.map((_, i) => i).sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : a - b));
  const out = new Array<number[]>(requests.length);
  for (let off = 0; off < order.length; off += SCORE_CHUNK) {
    const part = order.slice(off, off + SCORE_CHUNK);
    const lps = await scorer.score(
      part.map((i) => requests[i]!),
      masks,
    );
    part.forEach((i, r) => {
      out[i] = lps[r]!;
    });
    onChunk(Math.min(off + SCORE_CHUNK, order.length), order.length);
  }
  return out;
}
