/**
 * logitsGradient, the closed-form start of every attribution backward, against central finite
 * differences of the objective written out in float64 here: masked target positions, a label
 * repeated within a row, both objectives (log P and P), at the newest opset and the oldest it supports (11).
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, emptyModel, runModel, tensor } from '../../src/index.js';
import { logitsGradient, targetLogprobParts } from '../../src/attribution/objective.js';

const B = 2;
const T = 3;
const V = 7;
// Row 1's last target position is padding; row 0 repeats label 4.
const LABELS = [4, 1, 4, 6, 0, 2];
const MASK = [1, 1, 1, 1, 1, 0];

function logitsOf(seed: number): Float64Array {
  const z = new Float64Array(B * T * V);
  let s = seed;
  for (let i = 0; i < z.length; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    z[i] = (s / 2 ** 31) * 6 - 3;
  }
  return z;
}

/** sum_b c_b, c_b = log P(target_b) or P(target_b), in float64. */
function objective(z: Float64Array, kind: 'logprob' | 'prob'): number {
  let total = 0;
  for (let b = 0; b < B; b++) {
    let lp = 0;
    for (let t = 0; t < T; t++) {
      const row = z.subarray((b * T + t) * V, (b * T + t + 1) * V);
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
      lp += MASK[b * T + t]! * (row[LABELS[b * T + t]!]! - lse);
    }
    total += kind === 'prob' ? Math.exp(lp) : lp;
  }
  return total;
}

async function closedForm(z: Float64Array, kind: 'logprob' | 'prob', opset: number): Promise<Float32Array> {
  const model = emptyModel(opset, 'objective');
  const b = new GraphBuilder(model.graph, 't/');
  b.input('logits', 'float32', [B, T, V]);
  b.input('labels', 'int64', [B, T]);
  b.input('label_mask', 'float32', [B, T]);
  const lp = targetLogprobParts(b, 'logits', 'labels', 'label_mask', opset);
  const scale = kind === 'prob' ? b.op('Exp', [lp.logprob]) : undefined;
  const grad = logitsGradient(b, lp, 'label_mask', opset, scale);
  model.graph.outputs = [{ name: grad, dtype: 'float32', shape: [B, T, V] }];
  const res = await runModel(model, {
    logits: tensor('float32', [B, T, V], Float32Array.from(z)),
    labels: tensor('int64', [B, T], BigInt64Array.from(LABELS.map(BigInt))),
    label_mask: tensor('float32', [B, T], Float32Array.from(MASK)),
  });
  return res[grad]!.data as Float32Array;
}

describe('logitsGradient', () => {
  for (const [kind, opset] of [
    ['logprob', 17],
    ['prob', 17],
    ['logprob', 11],
  ] as const) {
    it(`equals finite differences of the ${kind} objective (opset ${opset})`, async () => {
      const z = logitsOf(kind === 'prob' ? 7 : 3);
      const got = await closedForm(z, kind, opset);
      const h = 1e-5;
      for (let i = 0; i < z.length; i++) {
        const up = Float64Array.from(z);
        const down = Float64Array.from(z);
        up[i]! += h;
        down[i]! -= h;
        const numeric = (objective(up, kind) - objective(down, kind)) / (2 * h);
        expect(Math.abs(got[i]! - numeric), `logit ${i}: closed form ${got[i]} numeric ${numeric}`).toBeLessThan(2e-6);
      }
      // The padded position gets no gradient at all.
      for (let v = 0; v < V; v++) expect(Math.abs(got[(1 * T + 2) * V + v]!)).toBe(0);
    });
  }
});
