import { describe, expect, it } from 'vitest';
import {
  GraphBuilder,
  emptyGraph,
  emptyModel,
  f32,
  i64,
  inlineConstantIfs,
  mergeGraphs,
  tensor,
  topologicalSort,
  type Model,
  type Tensor,
} from '../../src/index.js';
import { plain, randoms, run } from './helpers.js';

const D = 4;
const V = 6;
const shared = () => f32([V, D], randoms(V * D, 7));

/** Embedding -> masked -> MatMul -> Tanh, the way an exported encoder names things. */
function encoder(): Model {
  const m = emptyModel(14, 'encoder');
  const gb = new GraphBuilder(m.graph);
  gb.input('input_ids', 'int64', ['batch', 'enc_seq']);
  gb.input('attention_mask', 'int64', ['batch', 'enc_seq']);
  gb.initializer('shared.weight', shared());
  gb.initializer('onnx::MatMul_1', f32([D, D], randoms(D * D, 11)));
  gb.op('Gather', ['shared.weight', 'input_ids'], {}, { name: 'Gather_0', output: 'h' });
  gb.op('Cast', ['attention_mask'], { to: 1 }, { name: 'Cast_0', output: 'mask_f' });
  gb.op('Unsqueeze', ['mask_f', gb.ints([-1], 'axes')], {}, { name: 'Unsqueeze_0', output: 'mask_3d' });
  gb.op('Mul', ['h', 'mask_3d'], {}, { name: 'Mul_0', output: 'hm' });
  gb.op('MatMul', ['hm', 'onnx::MatMul_1'], {}, { name: 'MatMul_0', output: 'proj' });
  gb.op('Tanh', ['proj'], {}, { name: 'Tanh_0', output: 'last_hidden_state' });
  gb.output('last_hidden_state', 'float32', ['batch', 'enc_seq', D]);
  return m;
}

/** Cross attention of decoder embeddings over the encoder states, with a padding mask. */
function decoderNodes(gb: GraphBuilder, enc: string, out: string, tag = ''): void {
  gb.op('Gather', ['shared.weight', 'input_ids'], {}, { name: `Gather_0${tag}`, output: `h${tag}` });
  gb.op('Transpose', [enc], { perm: [0, 2, 1] }, { name: `Transpose_0${tag}`, output: `enc_t${tag}` });
  gb.op('MatMul', [`h${tag}`, `enc_t${tag}`], {}, { name: `MatMul_0${tag}`, output: `scores${tag}` });
  gb.op('Cast', ['encoder_attention_mask'], { to: 1 }, { name: `Cast_0${tag}`, output: `mask_f${tag}` });
  gb.op('Sub', [`one${tag}`, `mask_f${tag}`], {}, { name: `Sub_0${tag}`, output: `inv${tag}` });
  gb.op('Mul', [`inv${tag}`, `neg_big${tag}`], {}, { name: `Mul_0${tag}`, output: `bias2d${tag}` });
  gb.op('Unsqueeze', [`bias2d${tag}`, `axes1${tag}`], {}, { name: `Unsqueeze_0${tag}`, output: `bias${tag}` });
  gb.op('Add', [`scores${tag}`, `bias${tag}`], {}, { name: `Add_0${tag}`, output: `masked${tag}` });
  gb.op('Softmax', [`masked${tag}`], { axis: -1 }, { name: `Softmax_0${tag}`, output: `probs${tag}` });
  gb.op('MatMul', [`probs${tag}`, enc], {}, { name: `MatMul_1${tag}`, output: `ctx${tag}` });
  gb.op('MatMul', [`ctx${tag}`, 'onnx::MatMul_1'], {}, { name: `MatMul_2${tag}`, output: out });
}

function decoderInitializers(m: Model, tag = ''): void {
  m.graph.initializers.set(`one${tag}`, f32([], [1]));
  m.graph.initializers.set(`neg_big${tag}`, f32([], [-1e4]));
  m.graph.initializers.set(`axes1${tag}`, i64([1], [1]));
}

function decoderInputs(gb: GraphBuilder): void {
  gb.input('input_ids', 'int64', ['batch', 'dec_seq']);
  gb.input('encoder_hidden_states', 'float32', ['batch', 'enc_seq', D]);
  gb.input('encoder_attention_mask', 'int64', ['batch', 'enc_seq']);
}

function decoder(): Model {
  const m = emptyModel(17, 'decoder');
  m.opsetImports.push({ domain: 'com.microsoft', version: 1 });
  const gb = new GraphBuilder(m.graph);
  decoderInputs(gb);
  gb.initializer('shared.weight', shared()); // same name, same contents as the encoder's
  gb.initializer('onnx::MatMul_1', f32([D, D], randoms(D * D, 99))); // same name, different contents
  decoderInitializers(m);
  decoderNodes(gb, 'encoder_hidden_states', 'logits');
  gb.output('logits', 'float32', ['batch', 'dec_seq', D]);
  return m;
}

/** An Optimum-style merged decoder: If(use_cache_branch), each branch reading outer values. */
function mergedDecoder(): Model {
  const m = emptyModel(17, 'decoder_merged');
  const gb = new GraphBuilder(m.graph);
  decoderInputs(gb);
  gb.input('past_key_values.0.encoder.key', 'float32', ['batch', 'enc_seq', D]);
  gb.input('use_cache_branch', 'bool', [1]);
  gb.initializer('shared.weight', shared());
  gb.initializer('onnx::MatMul_1', f32([D, D], randoms(D * D, 99)));
  const branch = (tag: string, enc: string) => {
    const g = emptyGraph(`branch${tag}`);
    const bb = new GraphBuilder(g);
    const holder = { ...m, graph: g };
    decoderInitializers(holder, tag);
    decoderNodes(bb, enc, `logits${tag}`, tag);
    g.outputs.push({ name: `logits${tag}`, dtype: 'float32', shape: ['batch', 'dec_seq', D] });
    return g;
  };
  gb.node(
    'If',
    ['use_cache_branch'],
    { then_branch: branch('_past', 'past_key_values.0.encoder.key'), else_branch: branch('_nopast', 'encoder_hidden_states') },
    { name: 'optimum::if', outputs: ['logits'] },
  );
  gb.output('logits', 'float32', ['batch', 'dec_seq', D]);
  return m;
}

const feeds = {
  ids: i64([2, 3], [1, 2, 3, 4, 5, 0]),
  mask: i64([2, 3], [1, 1, 1, 1, 1, 0]),
  decIds: i64([2, 2], [0, 5, 0, 2]),
};

async function sequential(dec: Model, extra: Record<string, Tensor> = {}): Promise<Tensor> {
  const e = await run(encoder(), { input_ids: feeds.ids, attention_mask: feeds.mask });
  const d = await run(dec, { input_ids: feeds.decIds, encoder_hidden_states: e.last_hidden_state!, encoder_attention_mask: feeds.mask, ...extra });
  return d.logits!;
}

const connect = { encoder_hidden_states: 'last_hidden_state' };
const shareInputs = { encoder_attention_mask: 'attention_mask' };

describe('mergeGraphs', () => {
  it('wires the decoder to the encoder and computes the same logits as running both', async () => {
    const merged = mergeGraphs(encoder(), decoder(), { connect, shareInputs });
    const g = merged.graph;
    expect(g.inputs.map((v) => v.name)).toEqual(['input_ids', 'attention_mask', 'decoder/input_ids']);
    expect(g.outputs.map((v) => v.name)).toEqual(['logits']);
    expect([...g.initializers.keys()].filter((k) => k.includes('shared.weight'))).toEqual(['encoder/shared.weight']);
    expect(g.initializers.has('encoder/onnx::MatMul_1')).toBe(true);
    expect(g.initializers.has('decoder/onnx::MatMul_1')).toBe(true);
    expect(g.nodes.find((n) => n.name === 'decoder/MatMul_2')!.inputs[1]).toBe('decoder/onnx::MatMul_1');
    expect(g.nodes.find((n) => n.name === 'decoder/Transpose_0')!.inputs[0]).toBe('last_hidden_state');
    expect(new Set(g.nodes.map((n) => n.name)).size).toBe(g.nodes.length);
    expect(merged.opsetImports).toEqual([
      { domain: '', version: 17 },
      { domain: 'com.microsoft', version: 1 },
    ]);
    topologicalSort(g);
    const out = await run(merged, { input_ids: feeds.ids, attention_mask: feeds.mask, 'decoder/input_ids': feeds.decIds });
    const ref = await sequential(decoder());
    expect(plain(out.logits!)).toEqual(plain(ref));
    expect(out.logits!.dims).toEqual([2, 2, D]);
  });

  it('resolves collisions without prefixes and can keep the encoder outputs', async () => {
    const merged = mergeGraphs(encoder(), decoder(), { connect, shareInputs, prefixEncoder: '', prefixDecoder: '', keepEncoderOutputs: true });
    const g = merged.graph;
    expect(g.outputs.map((v) => v.name)).toEqual(['last_hidden_state', 'logits']);
    expect(g.inputs.map((v) => v.name)).toEqual(['input_ids', 'attention_mask', 'input_ids_1']);
    // Distinct weights under one name in the inputs: the decoder's copy got a suffix.
    expect(g.initializers.has('onnx::MatMul_1') && g.initializers.has('onnx::MatMul_1_1')).toBe(true);
    expect(g.initializers.has('shared.weight') && !g.initializers.has('shared.weight_1')).toBe(true);
    const out = await run(merged, { input_ids: feeds.ids, attention_mask: feeds.mask, input_ids_1: feeds.decIds });
    expect(plain(out.logits!)).toEqual(plain(await sequential(decoder())));
    const enc = await run(encoder(), { input_ids: feeds.ids, attention_mask: feeds.mask });
    expect(plain(out.last_hidden_state!)).toEqual(plain(enc.last_hidden_state!));
  });

  it('keeps a decoder mask input when it is not shared', async () => {
    const merged = mergeGraphs(encoder(), decoder(), { connect });
    expect(merged.graph.inputs.map((v) => v.name)).toEqual(['input_ids', 'attention_mask', 'decoder/input_ids', 'encoder_attention_mask']);
    const out = await run(merged, { input_ids: feeds.ids, attention_mask: feeds.mask, 'decoder/input_ids': feeds.decIds, encoder_attention_mask: feeds.mask });
    expect(plain(out.logits!)).toEqual(plain(await sequential(decoder())));
  });

  it('merges a merged decoder (If with subgraphs) and inlines its no-cache branch', async () => {
    const merged = mergeGraphs(encoder(), mergedDecoder(), { connect, shareInputs });
    const flat = inlineConstantIfs(merged, { use_cache_branch: false });
    expect(flat.graph.inputs.map((v) => v.name)).toEqual(['input_ids', 'attention_mask', 'decoder/input_ids']);
    expect(flat.graph.nodes.some((n) => n.opType === 'If')).toBe(false);
    const out = await run(flat, { input_ids: feeds.ids, attention_mask: feeds.mask, 'decoder/input_ids': feeds.decIds });
    const past = tensor('float32', [2, 3, D]);
    const ref = await sequential(mergedDecoder(), { 'past_key_values.0.encoder.key': past, use_cache_branch: tensor('bool', [1], [0]) });
    expect(plain(out.logits!)).toEqual(plain(ref));
    // The unflattened merge runs too (subgraph names were renamed consistently).
    const viaIf = await run(merged, {
      input_ids: feeds.ids,
      attention_mask: feeds.mask,
      'decoder/input_ids': feeds.decIds,
      'past_key_values.0.encoder.key': past,
      use_cache_branch: tensor('bool', [1], [0]),
    });
    expect(plain(viaIf.logits!)).toEqual(plain(ref));
  });

  it('names bad connections', () => {
    expect(() => mergeGraphs(encoder(), decoder(), { connect: { hidden: 'last_hidden_state' } })).toThrow(
      /'hidden', which is not an input of decoder graph 'decoder'/,
    );
    expect(() => mergeGraphs(encoder(), decoder(), { connect: { encoder_hidden_states: 'states' } })).toThrow(
      /'states', which is not an output of encoder graph 'encoder'/,
    );
    expect(() => mergeGraphs(encoder(), decoder(), { connect: { encoder_attention_mask: 'last_hidden_state' } })).toThrow(/dtypes differ \(int64 vs float32\)/);
    expect(() => mergeGraphs(encoder(), decoder(), { connect, shareInputs: { encoder_attention_mask: 'mask' } })).toThrow(
      /'mask', which is not an input of encoder graph/,
    );
  });
});
