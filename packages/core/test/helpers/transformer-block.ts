/**
 * A small decoder-only transformer block as an ONNX graph, for the autodiff end-to-end test and
 * the autodiff benchmark: token embedding (Gather), RMSNorm, multi-head causal self-attention
 * with an additive causal + padding mask, residual, LayerNormalization, gated SiLU FFN
 * (down(silu(gate(x)) * up(x))), residual, LM head, and a cross-entropy loss over target tokens
 * (LogSoftmax, one-hot Mul, ReduceSum). Weights are seeded random initializers.
 */
import { GraphBuilder, emptyModel, tensor, numel, type Model, type Tensor } from '../../src/index.js';
import { reduceOp, unsqueeze } from '../../src/autodiff/emit.js';
import { dtypeCode } from '../../src/onnx/dtype.js';
import { randn, rng } from './gradcheck.js';

export interface BlockConfig {
  batch: number;
  seq: number;
  dModel: number;
  heads: number;
  dFf: number;
  vocab: number;
  dtype: 'float32' | 'float64';
  seed?: number;
}

export interface Block {
  model: Model;
  feeds: Record<string, Tensor>;
  /** Weight initializer names, by role. */
  weights: Record<string, string>;
  /** Intermediate activations worth differentiating w.r.t., by role. */
  activations: Record<string, string>;
  /** Scalar mean cross-entropy over target tokens. */
  loss: string;
  /** Per-example sum of target-token log-probabilities [batch]. */
  logProb: string;
}

const NEG = -1e9;

export function buildTransformerBlock(cfg: BlockConfig): Block {
  const { batch: B, seq: T, dModel: D, heads: H, dFf: F, vocab: V, dtype } = cfg;
  if (D % H !== 0) throw new Error(`dModel ${D} is not divisible by heads ${H}`);
  const Dh = D / H;
  const seed = cfg.seed ?? 1;
  const opset = 17;
  const model = emptyModel(opset, 'block');
  const b = new GraphBuilder(model.graph);
  const w = (name: string, dims: number[], scale: number, k: number) => b.initializer(name, randn(dims, seed * 100 + k, dtype, scale));
  const c = (v: number) => b.scalar(v, dtype);
  const rs = (x: string, dims: number[], name: string) => b.op('Reshape', [x, b.ints(dims, 'shape')], {}, { name });

  b.input('input_ids', 'int64', [B, T]);
  b.input('attention_mask', 'int64', [B, T]);
  b.input('targets', 'int64', [B, T]);
  b.input('target_mask', dtype, [B, T]);

  const weights = {
    embed: w('model.embed_tokens.weight', [V, D], 1, 1),
    norm1: w('model.layers.0.input_layernorm.weight', [D], 0.2, 2),
    wq: w('model.layers.0.self_attn.q_proj.weight', [D, D], 1 / Math.sqrt(D), 3),
    bq: w('model.layers.0.self_attn.q_proj.bias', [D], 0.1, 4),
    wk: w('model.layers.0.self_attn.k_proj.weight', [D, D], 1 / Math.sqrt(D), 5),
    wv: w('model.layers.0.self_attn.v_proj.weight', [D, D], 1 / Math.sqrt(D), 6),
    wo: w('model.layers.0.self_attn.o_proj.weight', [D, D], 1 / Math.sqrt(D), 7),
    norm2: w('model.layers.0.post_attention_layernorm.weight', [D], 0.2, 8),
    norm2b: w('model.layers.0.post_attention_layernorm.bias', [D], 0.1, 9),
    wg: w('model.layers.0.mlp.gate_proj.weight', [D, F], 1 / Math.sqrt(D), 10),
    wu: w('model.layers.0.mlp.up_proj.weight', [D, F], 1 / Math.sqrt(D), 11),
    wd: w('model.layers.0.mlp.down_proj.weight', [F, D], 1 / Math.sqrt(F), 12),
    lm: w('lm_head.weight', [D, V], 1 / Math.sqrt(D), 13),
  };
  // Norm weights around 1.
  for (const k of ['norm1', 'norm2'] as const) {
    const t = model.graph.initializers.get(weights[k])!;
    const d = t.data as Float64Array;
    for (let i = 0; i < d.length; i++) d[i] = 1 + d[i]!;
  }

  // Additive mask [B, 1, T, T]: causal (key > query) and padding (attention_mask = 0) get NEG.
  const causal = tensor(
    dtype,
    [T, T],
    Array.from({ length: T * T }, (_, i) => (i % T > Math.floor(i / T) ? NEG : 0)),
  );
  const am = b.op('Cast', ['attention_mask'], { to: dtypeCode(dtype) }, { name: '/model/mask/Cast' });
  const pad = b.op('Mul', [b.op('Sub', [c(1), am]), c(NEG)], {}, { name: '/model/mask/pad' });
  const mask = b.op('Add', [rs(pad, [B, 1, 1, T], '/model/mask/Reshape'), b.constant(causal, 'causal')], {}, { name: '/model/mask/Add' });

  const x0 = b.op('Gather', [weights.embed, 'input_ids'], { axis: 0 }, { name: '/model/embed_tokens/Gather', output: 'hidden.0' });

  // RMSNorm: x / sqrt(mean(x^2) + eps) * g
  const ms = reduceOp(b, 'ReduceMean', b.op('Pow', [x0, c(2)], {}, { name: '/model/layers.0/input_layernorm/Pow' }), [-1], true, opset);
  const rms = b.op('Sqrt', [b.op('Add', [ms, c(1e-6)])], {}, { name: '/model/layers.0/input_layernorm/Sqrt' });
  const n1 = b.op('Mul', [b.op('Div', [x0, rms]), weights.norm1], {}, { name: '/model/layers.0/input_layernorm/Mul', output: 'norm1.out' });

  const heads = (x: string, perm: number[], name: string) =>
    b.op('Transpose', [rs(x, [B, T, H, Dh], `${name}/Reshape`)], { perm }, { name: `${name}/Transpose` });
  const q = b.op(
    'Add',
    [b.op('MatMul', [n1, weights.wq], {}, { name: '/model/layers.0/self_attn/q_proj/MatMul' }), weights.bq],
    {},
    { name: '/model/layers.0/self_attn/q_proj/Add' },
  );
  const k = b.op('MatMul', [n1, weights.wk], {}, { name: '/model/layers.0/self_attn/k_proj/MatMul' });
  const v = b.op('MatMul', [n1, weights.wv], {}, { name: '/model/layers.0/self_attn/v_proj/MatMul' });
  const qh = heads(q, [0, 2, 1, 3], '/model/layers.0/self_attn/q');
  const kt = heads(k, [0, 2, 3, 1], '/model/layers.0/self_attn/k');
  const vh = heads(v, [0, 2, 1, 3], '/model/layers.0/self_attn/v');
  const scores = b.op(
    'Div',
    [b.op('MatMul', [qh, kt], {}, { name: '/model/layers.0/self_attn/qk/MatMul' }), c(Math.sqrt(Dh))],
    {},
    { name: '/model/layers.0/self_attn/Div' },
  );
  const probs = b.op(
    'Softmax',
    [b.op('Add', [scores, mask], {}, { name: '/model/layers.0/self_attn/mask/Add' })],
    { axis: -1 },
    { name: '/model/layers.0/self_attn/Softmax', output: 'attn.probs' },
  );
  const ctxh = b.op('MatMul', [probs, vh], {}, { name: '/model/layers.0/self_attn/pv/MatMul' });
  const ctx = rs(
    b.op('Transpose', [ctxh], { perm: [0, 2, 1, 3] }, { name: '/model/layers.0/self_attn/ctx/Transpose' }),
    [B, T, D],
    '/model/layers.0/self_attn/ctx/Reshape',
  );
  const attn = b.op('MatMul', [ctx, weights.wo], {}, { name: '/model/layers.0/self_attn/o_proj/MatMul' });
  const h1 = b.op('Add', [x0, attn], {}, { name: '/model/layers.0/residual1/Add', output: 'hidden.1' });

  const n2 = b.op(
    'LayerNormalization',
    [h1, weights.norm2, weights.norm2b],
    { axis: -1, epsilon: 1e-5 },
    { name: '/model/layers.0/post_attention_layernorm/LayerNormalization' },
  );
  const gate = b.op('MatMul', [n2, weights.wg], {}, { name: '/model/layers.0/mlp/gate_proj/MatMul' });
  const silu = b.op('Mul', [gate, b.op('Sigmoid', [gate], {}, { name: '/model/layers.0/mlp/act/Sigmoid' })], {}, { name: '/model/layers.0/mlp/act/Mul' });
  const up = b.op('MatMul', [n2, weights.wu], {}, { name: '/model/layers.0/mlp/up_proj/MatMul' });
  const gated = b.op('Mul', [silu, up], {}, { name: '/model/layers.0/mlp/Mul', output: 'mlp.gated' });
  const down = b.op('MatMul', [gated, weights.wd], {}, { name: '/model/layers.0/mlp/down_proj/MatMul' });
  const h2 = b.op('Add', [h1, down], {}, { name: '/model/layers.0/residual2/Add', output: 'hidden.2' });

  const logits = b.op('MatMul', [h2, weights.lm], {}, { name: '/lm_head/MatMul', output: 'logits' });
  const logp = b.op('LogSoftmax', [logits], { axis: -1 }, { name: '/loss/LogSoftmax' });
  const vocabIds = b.constant(
    tensor(
      'int64',
      [V],
      Array.from({ length: V }, (_, i) => i),
    ),
    'vocab_ids',
  );
  const onehot = b.op(
    'Cast',
    [b.op('Equal', [unsqueeze(b, 'targets', [-1], opset), vocabIds], {}, { name: '/loss/Equal' })],
    { to: dtypeCode(dtype) },
    { name: '/loss/onehot' },
  );
  const tokLp = reduceOp(b, 'ReduceSum', b.op('Mul', [logp, onehot], {}, { name: '/loss/Mul' }), [-1], false, opset);
  const masked = b.op('Mul', [tokLp, 'target_mask'], {}, { name: '/loss/mask' });
  const logProb = b.op('Identity', [reduceOp(b, 'ReduceSum', masked, [1], false, opset)], {}, { name: '/loss/per_example', output: 'log_prob' });
  const count = reduceOp(b, 'ReduceSum', 'target_mask', [0, 1], false, opset);
  const loss = b.op('Div', [b.op('Neg', [reduceOp(b, 'ReduceSum', logProb, [0], false, opset)]), count], {}, { name: '/loss/Div', output: 'loss' });
  b.output(loss, dtype, []);
  b.output(logProb, dtype, [B]);
  b.output(logits, dtype, [B, T, V]);

  // Feeds: random tokens, right padding of (example index mod (T/4 + 1)) positions, targets = next token.
  const r = rng(seed * 7 + 3);
  const ids = new Array<number>(B * T);
  const amask = new Array<number>(B * T);
  const tgt = new Array<number>(B * T);
  const tmask = new Array<number>(B * T);
  for (let bi = 0; bi < B; bi++) {
    const padN = bi % (Math.floor(T / 4) + 1);
    for (let t = 0; t < T; t++) ids[bi * T + t] = Math.floor(r() * V);
    for (let t = 0; t < T; t++) {
      const i = bi * T + t;
      const real = t < T - padN;
      amask[i] = real ? 1 : 0;
      tgt[i] = t + 1 < T ? ids[i + 1]! : 0;
      tmask[i] = real && t + 1 < T - padN ? 1 : 0;
    }
  }
  const feeds = {
    input_ids: tensor('int64', [B, T], ids),
    attention_mask: tensor('int64', [B, T], amask),
    targets: tensor('int64', [B, T], tgt),
    target_mask: tensor(dtype, [B, T], tmask),
  };
  return {
    model,
    feeds,
    weights,
    activations: { hidden0: x0, norm1: n1, probs, hidden1: h1, gated, hidden2: h2 },
    loss,
    logProb,
  };
}

/** Number of weight elements of a block (for reports). */
export function blockParameters(block: Block): number {
  let n = 0;
  for (const name of Object.values(block.weights)) n += numel(block.model.graph.initializers.get(name)!.dims);
  return n;
}
