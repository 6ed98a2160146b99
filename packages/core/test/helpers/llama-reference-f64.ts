/**
 * An independent float64 forward pass of a Llama-family GGUF model, written directly from the
 * architecture (llama2.c / llama.cpp conventions) on the GGUF tensors as stored: it shares no
 * code with the ONNX builder, so agreement between the two is evidence for both.
 *
 * Conventions used here, straight from the GGUF file:
 * - a linear weight with GGUF dims [in, out] is row-major [out][in]: y[o] = sum_i W[o][i] x[i];
 * - rotary embeddings rotate interleaved pairs (x[2j], x[2j+1]) of each head by
 *   pos * theta^(-2j / headSize) (llama.cpp's "normal" rope, which llama2.c weights use);
 * - query head h reads key/value head floor(h / (nHead / nKvHead)).
 */
import { readGguf, tensorData, metaNumber, type GgufFile } from '../../src/gguf/reader.js';

export interface RefLayer {
  attnNorm: Float64Array;
  wq: Float64Array;
  wk: Float64Array;
  wv: Float64Array;
  wo: Float64Array;
  ffnNorm: Float64Array;
  wGate: Float64Array;
  wUp: Float64Array;
  wDown: Float64Array;
}

export interface RefModel {
  dim: number;
  hidden: number;
  nHead: number;
  nKvHead: number;
  headSize: number;
  vocab: number;
  eps: number;
  theta: number;
  embed: Float64Array;
  layers: RefLayer[];
  norm: Float64Array;
  output: Float64Array;
}

const f64 = (x: Float32Array) => Float64Array.from(x);

export function loadReferenceModel(source: string | GgufFile): RefModel {
  const file = typeof source === 'string' ? readGguf(source) : source;
  const arch = 'llama';
  const dim = metaNumber(file, `${arch}.embedding_length`);
  const nHead = metaNumber(file, `${arch}.attention.head_count`);
  const t = (name: string) => f64(tensorData(file, name));
  const nLayer = metaNumber(file, `${arch}.block_count`);
  const layers: RefLayer[] = [];
  for (let l = 0; l < nLayer; l++) {
    layers.push({
      attnNorm: t(`blk.${l}.attn_norm.weight`),
      wq: t(`blk.${l}.attn_q.weight`),
      wk: t(`blk.${l}.attn_k.weight`),
      wv: t(`blk.${l}.attn_v.weight`),
      wo: t(`blk.${l}.attn_output.weight`),
      ffnNorm: t(`blk.${l}.ffn_norm.weight`),
      wGate: t(`blk.${l}.ffn_gate.weight`),
      wUp: t(`blk.${l}.ffn_up.weight`),
      wDown: t(`blk.${l}.ffn_down.weight`),
    });
  }
  const embed = t('token_embd.weight');
  return {
    dim,
    hidden: metaNumber(file, `${arch}.feed_forward_length`),
    nHead,
    nKvHead: metaNumber(file, `${arch}.attention.head_count_kv`, nHead),
    headSize: dim / nHead,
    vocab: embed.length / dim,
    eps: metaNumber(file, `${arch}.attention.layer_norm_rms_epsilon`),
    theta: metaNumber(file, `${arch}.rope.freq_base`, 10000),
    embed,
    layers,
    norm: t('output_norm.weight'),
    output: t('output.weight'),
  };
}

function matvec(w: Float64Array, x: Float64Array, out: number): Float64Array {
  const n = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = 0;
    const row = o * n;
    for (let i = 0; i < n; i++) s += w[row + i] * x[i];
    y[o] = s;
  }
  return y;
}

function rmsnorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const scale = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * scale * w[i]);
}

function rope(x: Float64Array, nHeads: number, headSize: number, pos: number, theta: number): void {
  for (let h = 0; h < nHeads; h++) {
    for (let j = 0; j < headSize / 2; j++) {
      const freq = theta ** ((-2 * j) / headSize);
      const a = pos * freq;
      const c = Math.cos(a);
      const s = Math.sin(a);
      const i0 = h * headSize + 2 * j;
      const x0 = x[i0];
      const x1 = x[i0 + 1];
      x[i0] = x0 * c - x1 * s;
      x[i0 + 1] = x0 * s + x1 * c;
    }
  }
}

/** Logits [seq][vocab] for one unpadded sequence at positions 0..seq-1. */
export function referenceLogits(m: RefModel, ids: number[]): Float64Array[] {
  const { dim, headSize, nHead, nKvHead } = m;
  const kvDim = nKvHead * headSize;
  const group = nHead / nKvHead;
  let xs: Float64Array[] = ids.map((id) => {
    if (!Number.isInteger(id) || id < 0 || id >= m.vocab) throw new Error(`token id ${id} outside vocabulary`);
    return m.embed.slice(id * dim, (id + 1) * dim);
  });
  for (const L of m.layers) {
    const hs = xs.map((x) => rmsnorm(x, L.attnNorm, m.eps));
    const qs = hs.map((h, p) => {
      const q = matvec(L.wq, h, dim);
      rope(q, nHead, headSize, p, m.theta);
      return q;
    });
    const ks = hs.map((h, p) => {
      const k = matvec(L.wk, h, kvDim);
      rope(k, nKvHead, headSize, p, m.theta);
      return k;
    });
    const vs = hs.map((h) => matvec(L.wv, h, kvDim));
    xs = xs.map((x, t) => {
      const att = new Float64Array(dim);
      for (let h = 0; h < nHead; h++) {
        const kh = Math.floor(h / group);
        const scores = new Float64Array(t + 1);
        let max = -Infinity;
        for (let u = 0; u <= t; u++) {
          let s = 0;
          for (let d = 0; d < headSize; d++) s += qs[t][h * headSize + d] * ks[u][kh * headSize + d];
          scores[u] = s / Math.sqrt(headSize);
          max = Math.max(max, scores[u]);
        }
        let sum = 0;
        for (let u = 0; u <= t; u++) sum += scores[u] = Math.exp(scores[u] - max);
        for (let u = 0; u <= t; u++) {
          const p = scores[u] / sum;
          for (let d = 0; d < headSize; d++) att[h * headSize + d] += p * vs[u][kh * headSize + d];
        }
      }
      const o = matvec(L.wo, att, dim);
      const x1 = x.map((v, i) => v + o[i]);
      const h2 = rmsnorm(x1, L.ffnNorm, m.eps);
      const g = matvec(L.wGate, h2, m.hidden);
      const u = matvec(L.wUp, h2, m.hidden);
      const act = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]);
      const down = matvec(L.wDown, act, dim);
      return x1.map((v, i) => v + down[i]);
    });
  }
  return xs.map((x) => matvec(m.output, rmsnorm(x, m.norm, m.eps), m.vocab));
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** Greedy continuation of `prompt` by `steps` tokens (full recomputation each step). */
export function referenceGreedy(m: RefModel, prompt: number[], steps: number): number[] {
  const ids = [...prompt];
  for (let i = 0; i < steps; i++) {
    const logits = referenceLogits(m, ids);
    ids.push(argmax(logits[logits.length - 1]));
  }
  return ids.slice(prompt.length);
}

/** log-softmax of one logits row. */
export function logSoftmax(v: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < v.length; i++) max = Math.max(max, v[i]);
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += Math.exp(v[i] - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(v, (x) => x - lse);
}
