/**
 * Hand-built graphs whose node and weight names follow the exporters' conventions (torch.onnx
 * module scopes for T5 and GPT-2, Hugging Face parameter names for Llama), small enough to reason
 * about, for site detection, masks and pruning.
 */
import { GraphBuilder, createRng, emptyModel, f32, type Model } from '../../src/index.js';

/** Deterministic uniform(-1, 1) values (core's seeded generator). */
export function rand(seed: number): () => number {
  const r = createRng(seed >>> 0);
  return () => r.next() * 2 - 1;
}

export const T5_DIMS = { D: 8, inner: 12, F: 10, V: 16 };

/**
 * A one-block T5-shaped encoder-decoder: self-attention q,k,v,o and ReLU FFN (wi, wo) in the
 * encoder; self-attention, cross-attention and gated FFN (wi_0, wi_1, wo) in the decoder; an LM
 * head. Weight initializers have exporter-generated names (`onnx::MatMul_N`), so site names must
 * come from the node scopes.
 */
export function t5LikeModel(seed = 1): Model {
  const { D, inner, F, V } = T5_DIMS;
  const r = rand(seed);
  const m = emptyModel(17, 't5-like');
  const b = new GraphBuilder(m.graph);
  const W = (rows: number, cols: number) =>
    b.constant(
      f32(
        [rows, cols],
        Array.from({ length: rows * cols }, () => r() * 0.5),
      ),
      'onnx::MatMul',
    );
  const ids = b.input('input_ids', 'int64', ['batch', 'enc_len']);
  b.input('attention_mask', 'int64', ['batch', 'enc_len']);
  const dec = b.input('decoder_input_ids', 'int64', ['batch', 'dec_len']);
  const shared = b.initializer(
    'shared.weight',
    f32(
      [V, D],
      Array.from({ length: V * D }, () => r()),
    ),
  );
  const lin = (x: string, scope: string, rows: number, cols: number) => b.op('MatMul', [x, W(rows, cols)], {}, { name: `${scope}/MatMul` });
  const attn = (xq: string, xkv: string, scope: string) => {
    const q = lin(xq, `${scope}/q`, D, inner);
    const k = lin(xkv, `${scope}/k`, D, inner);
    const v = lin(xkv, `${scope}/v`, D, inner);
    const s = b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 2, 1] })], {}, { name: `${scope}/MatMul_scores` });
    const p = b.op('Softmax', [s], { axis: -1 });
    const ctx = b.op('MatMul', [p, v], {}, { name: `${scope}/MatMul_ctx` });
    return lin(ctx, `${scope}/o`, inner, D);
  };
  let x = b.op('Gather', [shared, ids], { axis: 0 }, { name: '/encoder/embed_tokens/Gather' });
  x = b.op('Add', [x, attn(x, x, '/encoder/block.0/layer.0/SelfAttention')]);
  const h = b.op('Relu', [lin(x, '/encoder/block.0/layer.1/DenseReluDense/wi', D, F)]);
  x = b.op('Add', [x, lin(h, '/encoder/block.0/layer.1/DenseReluDense/wo', F, D)]);
  const enc = b.op('Tanh', [x], {}, { output: 'encoder_hidden_states' });

  let y = b.op('Gather', [shared, dec], { axis: 0 }, { name: '/decoder/embed_tokens/Gather' });
  y = b.op('Add', [y, attn(y, y, '/decoder/block.0/layer.0/SelfAttention')]);
  y = b.op('Add', [y, attn(y, enc, '/decoder/block.0/layer.1/EncDecAttention')]);
  const gate = b.op('Tanh', [lin(y, '/decoder/block.0/layer.2/DenseReluDense/wi_0', D, F)]);
  const up = lin(y, '/decoder/block.0/layer.2/DenseReluDense/wi_1', D, F);
  y = b.op('Add', [y, lin(b.op('Mul', [gate, up]), '/decoder/block.0/layer.2/DenseReluDense/wo', F, D)]);
  b.op('MatMul', [y, W(D, V)], {}, { name: '/lm_head/MatMul', output: 'logits' });
  b.output('logits', 'float32', ['batch', 'dec_len', V]);
  return m;
}

export const GPT2_DIMS = { D: 6, F: 9, V: 11 };

/**
 * A one-block GPT-2-shaped decoder: fused c_attn (MatMul + bias Add), c_proj with a weight stored
 * [out, in] behind a Transpose, mlp c_fc as a Gemm with transB=1 and a bias, mlp c_proj with the
 * bias Add written bias-first. Input [tokens, D] floats so that Gemm applies.
 */
export function gpt2LikeModel(seed = 2): Model {
  const { D, F, V } = GPT2_DIMS;
  const r = rand(seed);
  const m = emptyModel(17, 'gpt2-like');
  const b = new GraphBuilder(m.graph);
  const T = (dims: number[], name: string) =>
    b.initializer(
      name,
      f32(
        dims,
        Array.from({ length: dims.reduce((a, c) => a * c, 1) }, () => r() * 0.5),
      ),
    );
  const x0 = b.input('x', 'float32', ['tokens', D]);
  const qkv = b.op('MatMul', [x0, T([D, 3 * D], 'transformer.h.0.attn.c_attn.weight')], {}, { name: '/transformer/h.0/attn/c_attn/MatMul' });
  const qkvB = b.op('Add', [qkv, T([3 * D], 'transformer.h.0.attn.c_attn.bias')], {}, { name: '/transformer/h.0/attn/c_attn/Add' });
  const [q, k, v] = b.node('Split', [qkvB, b.ints([D, D, D])], { axis: 1 }, { outputs: 3 }) as [string, string, string];
  const p = b.op('Softmax', [b.op('MatMul', [q, b.op('Transpose', [k], { perm: [1, 0] })])], { axis: -1 });
  const ctx = b.op('MatMul', [p, v]);
  const wProjT = b.op('Transpose', [T([D, D], 'transformer.h.0.attn.c_proj.weight_t')], { perm: [1, 0] }, { name: '/transformer/h.0/attn/c_proj/Transpose' });
  const o = b.op('MatMul', [ctx, wProjT], {}, { name: '/transformer/h.0/attn/c_proj/MatMul' });
  let x = b.op('Add', [x0, o]);
  const fc = b.op(
    'Gemm',
    [x, T([F, D], 'transformer.h.0.mlp.c_fc.weight'), T([F], 'transformer.h.0.mlp.c_fc.bias')],
    { transB: 1 },
    { name: '/transformer/h.0/mlp/c_fc/Gemm' },
  );
  const act = b.op('Tanh', [fc]);
  const down = b.op('MatMul', [act, T([F, D], 'transformer.h.0.mlp.c_proj.weight')], {}, { name: '/transformer/h.0/mlp/c_proj/MatMul' });
  const downB = b.op('Add', [T([D], 'transformer.h.0.mlp.c_proj.bias'), down], {}, { name: '/transformer/h.0/mlp/c_proj/Add' });
  x = b.op('Add', [x, downB]);
  b.op('MatMul', [x, T([D, V], 'lm_head.weight')], {}, { name: '/lm_head/MatMul', output: 'logits' });
  b.output('logits', 'float32', ['tokens', V]);
  return m;
}

/**
 * A Llama-shaped one-layer decoder whose nodes carry no scope (`MatMul_3`), so site names must
 * come from the Hugging Face weight names. `extraUnknown` adds a linear layer with a meaningless
 * name to exercise strict detection.
 */
export function llamaNoScopeModel(seed = 3, extraUnknown = false): Model {
  const D = 4;
  const F = 6;
  const r = rand(seed);
  const m = emptyModel(17, 'llama-noscope');
  const b = new GraphBuilder(m.graph);
  const T = (dims: number[], name: string) =>
    b.initializer(
      name,
      f32(
        dims,
        Array.from({ length: dims[0]! * dims[1]! }, () => r()),
      ),
    );
  const x0 = b.input('x', 'float32', ['batch', 'seq', D]);
  const p = 'model.layers.0';
  const q = b.op('MatMul', [x0, T([D, D], `${p}.self_attn.q_proj.weight`)]);
  const k = b.op('MatMul', [x0, T([D, 2], `${p}.self_attn.k_proj.weight`)]);
  const v = b.op('MatMul', [x0, T([D, 2], `${p}.self_attn.v_proj.weight`)]);
  const kv = b.op('Concat', [k, v], { axis: -1 });
  const o = b.op('MatMul', [b.op('Mul', [q, kv]), T([D, D], `${p}.self_attn.o_proj.weight`)]);
  let x = b.op('Add', [x0, o]);
  const gate = b.op('MatMul', [x, T([D, F], `${p}.mlp.gate_proj.weight`)]);
  const up = b.op('MatMul', [x, T([D, F], `${p}.mlp.up_proj.weight`)]);
  x = b.op('Add', [x, b.op('MatMul', [b.op('Mul', [b.op('Sigmoid', [gate]), up]), T([F, D], `${p}.mlp.down_proj.weight`)])]);
  if (extraUnknown) x = b.op('MatMul', [x, T([D, D], 'onnx::MatMul_77')], {}, { name: 'MatMul_mystery' });
  b.op('MatMul', [x, T([D, 5], 'lm_head.weight')], {}, { output: 'logits' });
  b.output('logits', 'float32', ['batch', 'seq', 5]);
  return m;
}
