/**
 * Random weights for generated T5 models, named like the Hugging Face state dict.
 *
 * Layout: every linear weight is stored as [in, out] (the transpose of the state dict's [out, in])
 * so that it is the right operand of a MatMul; embeddings and relative-attention-bias tables keep
 * the state dict layout ([rows, columns], read by Gather). `lm_head.weight` is always present as
 * [d_model, vocab]; with tied embeddings it is the transpose of `shared.weight`.
 *
 * Scales keep activations O(1): embeddings N(0, 1); q N(0, 1/(d_model * d_kv)) (T5 does not divide
 * the scores by sqrt(d_kv), so the scale lives in q as in T5's own initialisation); k, v, wi
 * N(0, 1/d_model); o N(0, 1/inner); wo N(0, 1/d_ff); untied lm_head N(0, 1/d_model); relative
 * attention bias N(0, 1); layer-norm weights 1 + N(0, 0.1^2) (not exactly 1, so that a misapplied
 * norm weight shows up in the numeric tests).
 */
import type { Tensor } from '../../onnx/types.js';
import { tensor } from '../../onnx/tensor.js';
import { SeededRandom } from './rng.js';
import type { ResolvedT5Config } from './t5-config.js';

export type T5Weights = Map<string, Tensor>;

function normal(seed: number, name: string, dims: number[], std: number, mean = 0): Tensor {
  const rng = SeededRandom.forTensor(seed, name);
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = mean + std * rng.normal();
  return { dtype: 'float32', dims, data };
}

/** Names of one attention module's weights under `prefix` (e.g. `encoder.block.0.layer.0.SelfAttention`). */
export function attentionWeightNames(prefix: string): { q: string; k: string; v: string; o: string } {
  return { q: `${prefix}.q.weight`, k: `${prefix}.k.weight`, v: `${prefix}.v.weight`, o: `${prefix}.o.weight` };
}

export function ffnWeightNames(prefix: string, gated: boolean): { wi: string[]; wo: string } {
  return {
    wi: gated ? [`${prefix}.wi_0.weight`, `${prefix}.wi_1.weight`] : [`${prefix}.wi.weight`],
    wo: `${prefix}.wo.weight`,
  };
}

/** Initializer name of a stack's bucket table (see relativePositionBucketTable). */
export const bucketTableName = (stack: 'encoder' | 'decoder') => `${stack}.relative_position_bucket_table`;

export function makeT5Weights(r: ResolvedT5Config): T5Weights {
  const w: T5Weights = new Map();
  const d = r.dModel;
  const inner = r.numHeads * r.dKv;
  const gated = r.feedForwardProj === 'gated-gelu';
  const put = (name: string, t: Tensor) => w.set(name, t);
  const norm = (name: string) => put(name, normal(r.seed, name, [d], 0.1, 1));
  const attention = (prefix: string) => {
    const n = attentionWeightNames(prefix);
    put(n.q, normal(r.seed, n.q, [d, inner], 1 / Math.sqrt(d * r.dKv)));
    put(n.k, normal(r.seed, n.k, [d, inner], 1 / Math.sqrt(d)));
    put(n.v, normal(r.seed, n.v, [d, inner], 1 / Math.sqrt(d)));
    put(n.o, normal(r.seed, n.o, [inner, d], 1 / Math.sqrt(inner)));
  };
  const ffn = (prefix: string) => {
    const n = ffnWeightNames(prefix, gated);
    for (const wi of n.wi) put(wi, normal(r.seed, wi, [d, r.dFf], 1 / Math.sqrt(d)));
    put(n.wo, normal(r.seed, n.wo, [r.dFf, d], 1 / Math.sqrt(r.dFf)));
  };

  const shared = normal(r.seed, 'shared.weight', [r.vocabSize, d], 1);
  put('shared.weight', shared);

  for (const [stack, layers] of [
    ['encoder', r.numLayers],
    ['decoder', r.numDecoderLayers],
  ] as const) {
    const relName = `${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`;
    put(relName, normal(r.seed, relName, [r.relativeAttentionNumBuckets, r.numHeads], 1));
    put(bucketTableName(stack), relativePositionBucketTable(stack === 'encoder', r.relativeAttentionNumBuckets, r.relativeAttentionMaxDistance));
    for (let i = 0; i < layers; i++) {
      const b = `${stack}.block.${i}`;
      norm(`${b}.layer.0.layer_norm.weight`);
      attention(`${b}.layer.0.SelfAttention`);
      if (stack === 'decoder') {
        norm(`${b}.layer.1.layer_norm.weight`);
        attention(`${b}.layer.1.EncDecAttention`);
      }
      const ff = stack === 'encoder' ? 1 : 2;
      norm(`${b}.layer.${ff}.layer_norm.weight`);
      ffn(`${b}.layer.${ff}.DenseReluDense`);
    }
    norm(`${stack}.final_layer_norm.weight`);
  }

  if (r.tieWordEmbeddings) {
    const t = new Float32Array(d * r.vocabSize);
    const s = shared.data as Float32Array;
    for (let v = 0; v < r.vocabSize; v++) for (let j = 0; j < d; j++) t[j * r.vocabSize + v] = s[v * d + j]!;
    put('lm_head.weight', { dtype: 'float32', dims: [d, r.vocabSize], data: t });
  } else {
    put('lm_head.weight', normal(r.seed, 'lm_head.weight', [d, r.vocabSize], 1 / Math.sqrt(d)));
  }
  return w;
}

/**
 * T5's relative position bucket for relative position `rel` = key position - query position.
 * Exact for |rel| < maxExact (half the buckets of a direction), logarithmic up to maxDistance,
 * saturated beyond. Evaluated with float32 rounding at each step (log, divide, multiply), as
 * PyTorch computes it; for the standard settings this equals the float64 result everywhere.
 */
export function relativePositionBucket(rel: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let buckets = numBuckets;
  let bucket = 0;
  let n: number;
  if (bidirectional) {
    buckets = numBuckets / 2;
    if (rel > 0) bucket += buckets;
    n = Math.abs(rel);
  } else {
    n = -Math.min(rel, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (n < maxExact) return bucket + n;
  const f = Math.fround;
  const scaled = f(f(f(Math.log(f(n / maxExact))) / f(Math.log(maxDistance / maxExact))) * (buckets - maxExact));
  const large = Math.min(maxExact + Math.trunc(scaled), buckets - 1);
  return bucket + large;
}

/**
 * Buckets for rel = -maxDistance .. maxDistance (index rel + maxDistance). Every |rel| >= maxDistance
 * falls in the last bucket of its direction, so the graph clips rel into this range and gathers:
 * exact integer buckets for any sequence length, no float log inside the graph.
 */
export function relativePositionBucketTable(bidirectional: boolean, numBuckets: number, maxDistance: number): Tensor {
  const vals: number[] = [];
  for (let rel = -maxDistance; rel <= maxDistance; rel++) vals.push(relativePositionBucket(rel, bidirectional, numBuckets, maxDistance));
  return tensor('int64', [vals.length], vals);
}
