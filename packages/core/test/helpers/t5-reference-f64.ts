/**
 * An independent float64 forward pass of a T5 model folder (encoder + decoder, teacher forcing),
 * written from the architecture as Hugging Face's T5 implements it, on the weights read from the
 * generated ONNX initializers. It shares no code with the graph builder (no bucket table: the
 * relative position buckets come from the log formula in float64; masks drop keys instead of
 * adding a large negative), so agreement is evidence for both.
 *
 * Weight conventions of the generated folder: linear weights are [in, out] (y[o] = sum_i x[i] W[i][o]),
 * `shared.weight` is [vocab, d], relative attention bias tables are [buckets, heads], and
 * `lm_head.weight` is [d, vocab].
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModel } from '../../src/onnx/io.js';

export interface T5RefConfig {
  d: number;
  dff: number;
  dkv: number;
  heads: number;
  encLayers: number;
  decLayers: number;
  vocab: number;
  buckets: number;
  maxDistance: number;
  gated: boolean;
  tied: boolean;
  eps: number;
}

export interface T5Ref {
  cfg: T5RefConfig;
  w: Map<string, Float64Array>;
}

export function loadT5Reference(dir: string): T5Ref {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const cfg: T5RefConfig = {
    d: c.d_model,
    dff: c.d_ff,
    dkv: c.d_kv,
    heads: c.num_heads,
    encLayers: c.num_layers,
    decLayers: c.num_decoder_layers,
    vocab: c.vocab_size,
    buckets: c.relative_attention_num_buckets,
    maxDistance: c.relative_attention_max_distance,
    gated: c.feed_forward_proj === 'gated-gelu',
    tied: c.tie_word_embeddings,
    eps: c.layer_norm_epsilon,
  };
  const w = new Map<string, Float64Array>();
  for (const file of ['encoder_model.onnx', 'decoder_model.onnx']) {
    for (const [name, t] of readModel(join(dir, 'onnx', file)).graph.initializers) {
      if (t.dtype === 'float32' && !w.has(name)) w.set(name, Float64Array.from(t.data as Float32Array));
    }
  }
  return { cfg, w };
}

function get(ref: T5Ref, name: string): Float64Array {
  const t = ref.w.get(name);
  if (!t) throw new Error(`reference: weight ${name} not found`);
  return t;
}

/** HF T5's _relative_position_bucket, in float64. rel = key position - query position. */
export function refBucket(rel: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let nb = numBuckets;
  let out = 0;
  let n: number;
  if (bidirectional) {
    nb = nb / 2;
    out += rel > 0 ? nb : 0;
    n = Math.abs(rel);
  } else {
    n = Math.max(-rel, 0);
  }
  const maxExact = nb / 2;
  if (n < maxExact) return out + n;
  const large = maxExact + Math.floor((Math.log(n / maxExact) / Math.log(maxDistance / maxExact)) * (nb - maxExact));
  return out + Math.min(large, nb - 1);
}

/** x [T, inDim] times W [inDim, outDim]. */
function linear(x: Float64Array, T: number, W: Float64Array, inDim: number, outDim: number): Float64Array {
  const y = new Float64Array(T * outDim);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < inDim; i++) {
      const xv = x[t * inDim + i]!;
      if (xv === 0) continue;
      const row = i * outDim;
      const base = t * outDim;
      for (let o = 0; o < outDim; o++) y[base + o]! += xv * W[row + o]!;
    }
  }
  return y;
}

function rmsNorm(x: Float64Array, T: number, d: number, weight: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += x[t * d + j]! ** 2;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let j = 0; j < d; j++) y[t * d + j] = x[t * d + j]! * inv * weight[j]!;
  }
  return y;
}

function addInPlace(a: Float64Array, b: Float64Array): void {
  for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
}

const geluNew = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/**
 * Multi-head attention for one sequence. `allowed(t, k)` says whether query t may see key k;
 * `bias(h, t, k)` is the additive position bias (0 for cross-attention).
 */
function attend(
  ref: T5Ref,
  prefix: string,
  xq: Float64Array,
  T: number,
  xkv: Float64Array,
  K: number,
  allowed: (t: number, k: number) => boolean,
  bias: (h: number, t: number, k: number) => number,
): Float64Array {
  const { d, heads, dkv } = ref.cfg;
  const inner = heads * dkv;
  const q = linear(xq, T, get(ref, `${prefix}.q.weight`), d, inner);
  const k = linear(xkv, K, get(ref, `${prefix}.k.weight`), d, inner);
  const v = linear(xkv, K, get(ref, `${prefix}.v.weight`), d, inner);
  const ctx = new Float64Array(T * inner);
  const scores = new Float64Array(K);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < T; t++) {
      let max = -Infinity;
      for (let j = 0; j < K; j++) {
        if (!allowed(t, j)) {
          scores[j] = -Infinity;
          continue;
        }
        let s = 0;
        for (let c = 0; c < dkv; c++) s += q[t * inner + h * dkv + c]! * k[j * inner + h * dkv + c]!;
        s += bias(h, t, j);
        scores[j] = s;
        if (s > max) max = s;
      }
      let z = 0;
      for (let j = 0; j < K; j++) {
        const e = scores[j] === -Infinity ? 0 : Math.exp(scores[j]! - max);
        scores[j] = e;
        z += e;
      }
      for (let j = 0; j < K; j++) {
        const p = scores[j]! / z;
        if (p === 0) continue;
        for (let c = 0; c < dkv; c++) ctx[t * inner + h * dkv + c]! += p * v[j * inner + h * dkv + c]!;
      }
    }
  }
  return linear(ctx, T, get(ref, `${prefix}.o.weight`), inner, d);
}

function ffn(ref: T5Ref, prefix: string, x: Float64Array, T: number): Float64Array {
  const { d, dff, gated } = ref.cfg;
  let h: Float64Array;
  if (gated) {
    const a = linear(x, T, get(ref, `${prefix}.wi_0.weight`), d, dff);
    const b = linear(x, T, get(ref, `${prefix}.wi_1.weight`), d, dff);
    h = new Float64Array(T * dff);
    for (let i = 0; i < h.length; i++) h[i] = geluNew(a[i]!) * b[i]!;
  } else {
    h = linear(x, T, get(ref, `${prefix}.wi.weight`), d, dff);
    for (let i = 0; i < h.length; i++) h[i] = Math.max(h[i]!, 0);
  }
  return linear(h, T, get(ref, `${prefix}.wo.weight`), dff, d);
}

function embed(ref: T5Ref, ids: number[]): Float64Array {
  const { d, vocab } = ref.cfg;
  const E = get(ref, 'shared.weight');
  const x = new Float64Array(ids.length * d);
  ids.forEach((id, t) => {
    if (id < 0 || id >= vocab) throw new Error(`reference: token id ${id} out of range`);
    x.set(E.subarray(id * d, (id + 1) * d), t * d);
  });
  return x;
}

function relBias(ref: T5Ref, stack: 'encoder' | 'decoder') {
  const table = get(ref, `${stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight`);
  const { heads, buckets, maxDistance } = ref.cfg;
  return (h: number, t: number, k: number) => table[refBucket(k - t, stack === 'encoder', buckets, maxDistance) * heads + h]!;
}

/** Encoder output for one sequence: [S, d] (padded positions computed too, as HF does). */
export function refEncode(ref: T5Ref, ids: number[], mask: number[]): Float64Array {
  const { d, eps, encLayers } = ref.cfg;
  const S = ids.length;
  let x = embed(ref, ids);
  const bias = relBias(ref, 'encoder');
  const allowed = (_t: number, k: number) => mask[k] === 1;
  for (let i = 0; i < encLayers; i++) {
    const b = `encoder.block.${i}`;
    const n0 = rmsNorm(x, S, d, get(ref, `${b}.layer.0.layer_norm.weight`), eps);
    addInPlace(x, attend(ref, `${b}.layer.0.SelfAttention`, n0, S, n0, S, allowed, bias));
    const n1 = rmsNorm(x, S, d, get(ref, `${b}.layer.1.layer_norm.weight`), eps);
    addInPlace(x, ffn(ref, `${b}.layer.1.DenseReluDense`, n1, S));
  }
  x = rmsNorm(x, S, d, get(ref, 'encoder.final_layer_norm.weight'), eps);
  return x;
}

/** Decoder logits for one sequence given the encoder output: [T, vocab]. */
export function refDecode(ref: T5Ref, enc: Float64Array, encMask: number[], decIds: number[]): Float64Array {
  const { d, eps, decLayers, vocab, tied } = ref.cfg;
  const T = decIds.length;
  const S = encMask.length;
  let x = embed(ref, decIds);
  const bias = relBias(ref, 'decoder');
  const causal = (t: number, k: number) => k <= t;
  const cross = (_t: number, k: number) => encMask[k] === 1;
  for (let i = 0; i < decLayers; i++) {
    const b = `decoder.block.${i}`;
    const n0 = rmsNorm(x, T, d, get(ref, `${b}.layer.0.layer_norm.weight`), eps);
    addInPlace(x, attend(ref, `${b}.layer.0.SelfAttention`, n0, T, n0, T, causal, bias));
    const n1 = rmsNorm(x, T, d, get(ref, `${b}.layer.1.layer_norm.weight`), eps);
    addInPlace(
      x,
      attend(ref, `${b}.layer.1.EncDecAttention`, n1, T, enc, S, cross, () => 0),
    );
    const n2 = rmsNorm(x, T, d, get(ref, `${b}.layer.2.layer_norm.weight`), eps);
    addInPlace(x, ffn(ref, `${b}.layer.2.DenseReluDense`, n2, T));
  }
  x = rmsNorm(x, T, d, get(ref, 'decoder.final_layer_norm.weight'), eps);
  if (tied) {
    // T5 v1.0 rescales before the tied projection; the head is the embedding matrix itself.
    const E = get(ref, 'shared.weight');
    const s = d ** -0.5;
    const logits = new Float64Array(T * vocab);
    for (let t = 0; t < T; t++) {
      for (let v = 0; v < vocab; v++) {
        let acc = 0;
        for (let j = 0; j < d; j++) acc += x[t * d + j]! * s * E[v * d + j]!;
        logits[t * vocab + v] = acc;
      }
    }
    return logits;
  }
  return linear(x, T, get(ref, 'lm_head.weight'), d, vocab);
}
