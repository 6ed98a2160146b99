import { describe, expect, it } from 'vitest';
import { createRng } from '../../src/index.js';
import { segmentPlan } from '../../src/models/prompt-cache.js';

describe('segmentPlan', () => {
  it('runs each distinct prefix once per segment and ends each prompt in the row of its whole prefix', () => {
    const prompts = [[1, 2, 3, 4], [1, 2, 3, 5], [1, 2], [1, 2, 3, 4], [9], []];
    const plan = segmentPlan(prompts, 2);
    expect(plan).toEqual([
      {
        start: 0,
        rows: [
          { parent: -1, tokens: [1, 2] },
          { parent: -1, tokens: [9] },
        ],
        ends: [
          { prompt: 2, row: 0 },
          { prompt: 4, row: 1 },
        ],
      },
      {
        start: 2,
        rows: [
          { parent: 0, tokens: [3, 4] },
          { parent: 0, tokens: [3, 5] },
        ],
        ends: [
          { prompt: 0, row: 0 },
          { prompt: 1, row: 1 },
          { prompt: 3, row: 0 },
        ],
      },
    ]);
  });

  it('rebuilds every prompt from its rows, and runs as many rows as there are distinct prefixes', () => {
    const rng = createRng(3);
    // Prompts over a small alphabet share many prefixes.
    const prompts = Array.from({ length: 60 }, () => Array.from({ length: 1 + rng.int(12) }, () => rng.int(3)));
    for (const segment of [1, 3, 5, 16]) {
      const plan = segmentPlan(prompts, segment);
      const ended = new Set<number>();
      for (const [s, seg] of plan.entries()) {
        expect(seg.start).toBe(s * segment);
        // Rows continue full rows only.
        for (const r of seg.rows) if (s > 0) expect(plan[s - 1]!.rows[r.parent]!.tokens.length).toBe(segment);
        const distinct = new Set(prompts.filter((p) => p.length > seg.start).map((p) => p.slice(0, seg.start + segment).join(',')));
        expect(seg.rows.length).toBe(distinct.size);
        for (const e of seg.ends) {
          const tokens: number[] = [];
          let row = e.row;
          for (let k = s; k >= 0; k--) {
            tokens.unshift(...plan[k]!.rows[row]!.tokens);
            row = plan[k]!.rows[row]!.parent;
          }
          expect(tokens).toEqual(prompts[e.prompt]);
          expect(ended.has(e.prompt)).toBe(false);
          ended.add(e.prompt);
        }
      }
      expect(ended.size).toBe(prompts.length);
    }
  });
});
