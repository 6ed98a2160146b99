import { describe, expect, it } from 'vitest';
import { GraphBuilder, emptyGraph, emptyModel, f32, i64, probeShapes, specialize, tensor, type Model, type Tensor } from '../../src/index.js';
import { expectSameOutputs, randoms, run } from './helpers.js';

const ops = (m: Model) => m.graph.nodes.map((n) => n.opType);

/**
 * y = Reshape(x, [batch, seq, 2, 4]) with the target built from Shape/Gather/Unsqueeze/Concat, and
 * z = Softmax(x x^T + causal) with the causal mask from Range/Less/ConstantOfShape/Where.
 */
function shapeArithmetic(): Model {
  const m = emptyModel(17, 'shape_math');
  const gb = new GraphBuilder(m.graph);
  const x = gb.input('x', 'float32', ['batch', 'seq', 8]);
  const s = gb.op('Shape', [x]);
  const b = gb.op('Gather', [s, gb.constant(i64([], [0]), 'zero')], { axis: 0 });
  const t = gb.op('Gather', [s, gb.constant(i64([], [1]), 'one')], { axis: 0 });
  const axes0 = gb.ints([0], 'axes0');
  const target = gb.op('Concat', [gb.op('Unsqueeze', [b, axes0]), gb.op('Unsqueeze', [t, axes0]), gb.ints([2, 4], 'heads')], { axis: 0 });
  gb.op('Reshape', [x, target], {}, { output: 'y' });
  gb.output('y', 'float32', ['batch', 'seq', 2, 4]);

  const r = gb.op('Range', [gb.constant(i64([], [0]), 'start'), t, gb.constant(i64([], [1]), 'step')]);
  const row = gb.op('Unsqueeze', [r, gb.ints([1], 'axes1')]);
  const col = gb.op('Unsqueeze', [r, axes0]);
  const future = gb.op('Less', [row, col]);
  const sq = gb.op('Concat', [gb.op('Unsqueeze', [t, axes0]), gb.op('Unsqueeze', [t, axes0])], { axis: 0 });
  const neg = gb.op('ConstantOfShape', [sq], { value: f32([1], [-1e4]) });
  const zeros = gb.op('ConstantOfShape', [sq], { value: f32([1], [0]) });
  const causal = gb.op('Where', [future, neg, zeros]);
  const scores = gb.op('MatMul', [x, gb.op('Transpose', [x], { perm: [0, 2, 1] })]);
  gb.op('Softmax', [gb.op('Add', [scores, causal])], { axis: -1 }, { output: 'z' });
  gb.output('z', 'float32', ['batch', 'seq', 'seq']);
  return m;
}

const H = 16; // hidden size
const NH = 4; // heads
const HD = H / NH;
const MAXPOS = 16;

/**
 * GPT-2 attention as torch.onnx exports it: head split via Shape -> Gather -> Unsqueeze -> Concat ->
 * Reshape, scale 1/sqrt(head_dim) computed from Shape -> Gather -> Cast -> Sqrt, the causal mask
 * sliced out of the `bias` buffer with starts/ends from shapes, and the heads merged back the same way.
 */
function gpt2Attention(): Model {
  const m = emptyModel(17, 'gpt2_attn');
  const gb = new GraphBuilder(m.graph);
  const x = gb.input('hidden_states', 'float32', ['batch', 'seq', H]);
  const w = gb.initializer(
    'h.0.attn.c_attn.weight',
    f32(
      [H, 3 * H],
      randoms(H * 3 * H, 3).map((v) => v * 0.3),
    ),
  );
  const bias = gb.initializer('h.0.attn.c_attn.bias', f32([3 * H], randoms(3 * H, 4)));
  const tri: number[] = [];
  for (let i = 0; i < MAXPOS; i++) for (let j = 0; j < MAXPOS; j++) tri.push(j <= i ? 1 : 0);
  gb.initializer('h.0.attn.bias', tensor('bool', [1, 1, MAXPOS, MAXPOS], tri));
  const wo = gb.initializer('h.0.attn.c_proj.weight', f32([H, H], randoms(H * H, 5)));
  const qkv = gb.op('Add', [gb.op('MatMul', [x, w], {}, { name: '/h.0/attn/c_attn/MatMul' }), bias]);
  const [q, k, v] = gb.node('Split', [qkv, gb.ints([H, H, H], 'split')], { axis: 2 }, { outputs: 3, name: '/h.0/attn/Split' });
  const idx = (n: number) => gb.constant(i64([], [n]), `idx${n}`);
  const ax0 = gb.ints([0], 'unsq_axes');
  const splitHeads = (t: string, tag: string) => {
    const s = gb.op('Shape', [t], {}, { name: `/h.0/attn/Shape_${tag}` });
    const b = gb.op('Gather', [s, idx(0)], { axis: 0 });
    const s2 = gb.op('Shape', [t]);
    const l = gb.op('Gather', [s2, idx(1)], { axis: 0 });
    const shape = gb.op('Concat', [gb.op('Unsqueeze', [b, ax0]), gb.op('Unsqueeze', [l, ax0]), gb.ints([NH], 'nh'), gb.ints([HD], 'hd')], { axis: 0 });
    return gb.op('Transpose', [gb.op('Reshape', [t, shape])], { perm: [0, 2, 1, 3] });
  };
  const qh = splitHeads(q!, 'q');
  const kh = splitHeads(k!, 'k');
  const vh = splitHeads(v!, 'v');
  let scores = gb.op('MatMul', [qh, gb.op('Transpose', [kh], { perm: [0, 1, 3, 2] })]);
  const hdim = gb.op('Cast', [gb.op('Gather', [gb.op('Shape', [vh]), idx(-1)], { axis: 0 })], { to: 1 });
  scores = gb.op('Div', [scores, gb.op('Sqrt', [hdim])]);
  const qlen = gb.op('Gather', [gb.op('Shape', [qh]), idx(-2)], { axis: 0 });
  const klen = gb.op('Gather', [gb.op('Shape', [kh]), idx(-2)], { axis: 0 });
  const start = gb.op('Unsqueeze', [gb.op('Sub', [klen, qlen]), ax0]);
  const end = gb.op('Unsqueeze', [klen, ax0]);
  let mask = gb.op('Slice', ['h.0.attn.bias', start, end, gb.ints([2], 'ax2'), gb.ints([1], 'st1')]);
  mask = gb.op('Slice', [mask, gb.ints([0], 'zero1'), end, gb.ints([3], 'ax3'), gb.ints([1], 'st1b')]);
  const minval = gb.constant(f32([], [-3.4028234663852886e38]), 'min_value');
  const probs = gb.op('Softmax', [gb.op('Where', [mask, scores, minval])], { axis: -1 });
  const ctx = gb.op('Transpose', [gb.op('MatMul', [probs, vh])], { perm: [0, 2, 1, 3] });
  const cs = gb.op('Shape', [ctx]);
  const merged = gb.op(
    'Concat',
    [gb.op('Unsqueeze', [gb.op('Gather', [cs, idx(0)]), ax0]), gb.op('Unsqueeze', [gb.op('Gather', [cs, idx(1)]), ax0]), gb.ints([H], 'hidden')],
    { axis: 0 },
  );
  gb.op('MatMul', [gb.op('Reshape', [ctx, merged]), wo], {}, { output: 'attn_output' });
  gb.output('attn_output', 'float32', ['batch', 'seq', H]);
  return m;
}

describe('specialize', () => {
  it('folds the reshape target and the causal mask; outputs are unchanged', async () => {
    const m = shapeArithmetic();
    const { model, shapes, leftovers } = await specialize(m, { x: [2, 5, 8] }, probeShapes);
    expect(leftovers).toEqual([]);
    expect(ops(model)).toEqual(['Reshape', 'Transpose', 'MatMul', 'Add', 'Softmax']);
    expect(model.graph.inputs[0]!.shape).toEqual([2, 5, 8]);
    expect(model.graph.outputs.map((o) => o.shape)).toEqual([
      [2, 5, 2, 4],
      [2, 5, 5],
    ]);
    // The folded causal mask is a [5, 5] initializer with -1e4 above the diagonal.
    const addNode = model.graph.nodes[3]!;
    const mask = model.graph.initializers.get(addNode.inputs[1]!)!;
    expect(mask.dims).toEqual([5, 5]);
    expect(Array.from(mask.data as Float32Array).slice(0, 5)).toEqual([0, -1e4, -1e4, -1e4, -1e4].map(Math.fround));
    expect(shapes.get('y')).toEqual({ dtype: 'float32', dims: [2, 5, 2, 4] });
    expect(shapes.get(model.graph.nodes[2]!.outputs[0]!)).toEqual({ dtype: 'float32', dims: [2, 5, 5] });
    expect(model.graph.valueInfo.every((v) => v.shape!.every((d) => typeof d === 'number'))).toBe(true);
    const feeds = { x: f32([2, 5, 8], randoms(80, 2)) };
    await expectSameOutputs(m, model, feeds, ['y', 'z']);
    // The input model still has its shape logic.
    expect(ops(m)).toContain('Shape');
  });

  it('specialises a GPT-2 attention block as torch.onnx exports it', async () => {
    const m = gpt2Attention();
    for (const dims of [
      [2, 5, H],
      [1, 1, H],
    ]) {
      const { model, shapes } = await specialize(m, { hidden_states: dims }, probeShapes);
      const remaining = ops(model);
      for (const op of ['Shape', 'Gather', 'Concat', 'Unsqueeze', 'Cast', 'Sqrt', 'Slice', 'Sub']) expect(remaining, op).not.toContain(op);
      expect(remaining).toEqual([
        'MatMul',
        'Add',
        'Split',
        'Reshape',
        'Transpose',
        'Reshape',
        'Transpose',
        'Reshape',
        'Transpose',
        'Transpose',
        'MatMul',
        'Div',
        'Where',
        'Softmax',
        'MatMul',
        'Transpose',
        'Reshape',
        'MatMul',
      ]);
      // Weight names survive (neuron sites are found by them) and the big bias buffer is gone.
      expect(model.graph.initializers.has('h.0.attn.c_attn.weight')).toBe(true);
      expect(model.graph.initializers.has('h.0.attn.bias')).toBe(false);
      const whereNode = model.graph.nodes.find((n) => n.opType === 'Where')!;
      expect(model.graph.initializers.get(whereNode.inputs[0]!)!.dims).toEqual([1, 1, dims[1], dims[1]]);
      const divNode = model.graph.nodes.find((n) => n.opType === 'Div')!;
      expect(Array.from(model.graph.initializers.get(divNode.inputs[1]!)!.data as Float32Array)).toEqual([2]);
      const feeds = { hidden_states: f32(dims, randoms(dims[0]! * dims[1]! * H, 9)) };
      await expectSameOutputs(m, model, feeds, ['attn_output']);
      // The returned ShapeMap agrees with a fresh probe of the specialised model.
      const probe = await probeShapes(model, feeds);
      for (const [name, meta] of probe) expect(shapes.get(name), name).toEqual(meta);
      expect(shapes.get('attn_output')!.dims).toEqual(dims);
    }
  });

  it('with batchInputs, probes at batch 1 and 2 and extrapolates every shape to the full batch', async () => {
    const m = gpt2Attention();
    const dims = [8, 5, H];
    const full = await specialize(m, { hidden_states: dims }, probeShapes);
    const small = await specialize(m, { hidden_states: dims }, probeShapes, { batchInputs: ['hidden_states'] });
    expect(ops(small.model)).toEqual(ops(full.model));
    expect([...small.shapes.entries()].sort()).toEqual([...full.shapes.entries()].sort());
    const feeds = { hidden_states: f32(dims, randoms(8 * 5 * H, 11)) };
    await expectSameOutputs(m, small.model, feeds, ['attn_output']);
  });

  it('inlines an If whose condition folds from shapes, then probes the branch', async () => {
    // Decoders special-case seq == 1; specialising decides the branch.
    const m = emptyModel(17, 'if_on_shape');
    const gb = new GraphBuilder(m.graph);
    const x = gb.input('x', 'float32', ['batch', 'seq']);
    const seq = gb.op('Gather', [gb.op('Shape', [x]), gb.constant(i64([], [1]), 'one')], { axis: 0 });
    const cond = gb.op('Equal', [seq, gb.constant(i64([], [1]), 'one_b')]);
    const thenG = emptyGraph('single');
    new GraphBuilder(thenG).op('Neg', ['x'], {}, { output: 'neg_x' });
    thenG.outputs.push({ name: 'neg_x', dtype: 'float32', shape: null });
    const elseG = emptyGraph('many');
    const eb = new GraphBuilder(elseG, 'else/');
    // The else branch has shape logic of its own, folded once it is inlined.
    const half = eb.op('Div', [eb.op('Gather', [eb.op('Shape', ['x']), eb.constant(i64([], [1]), 'one_c')], { axis: 0 }), eb.constant(i64([], [2]), 'two')]);
    const shape = eb.op('Concat', [eb.ints([-1], 'minus1'), eb.op('Unsqueeze', [half, eb.ints([0], 'ax')])], { axis: 0 });
    eb.op('Reshape', ['x', shape], {}, { output: 'folded_x' });
    eb.op('ReduceSum', ['folded_x', eb.ints([1], 'ax1')], { keepdims: 0 }, { output: 'sum_x' });
    elseG.outputs.push({ name: 'sum_x', dtype: 'float32', shape: null });
    gb.node('If', [cond], { then_branch: thenG, else_branch: elseG }, { outputs: ['y'] });
    gb.output('y', 'float32', null);

    const one = await specialize(m, { x: [2, 1] }, probeShapes);
    expect(ops(one.model)).toEqual(['Neg']);
    await expectSameOutputs(m, one.model, { x: f32([2, 1], [3, 4]) }, ['y']);
    const many = await specialize(m, { x: [2, 4] }, probeShapes);
    expect(ops(many.model)).toEqual(['Reshape', 'ReduceSum']);
    expect(many.shapes.get('y')).toEqual({ dtype: 'float32', dims: [4] });
    expect(many.model.graph.outputs[0]!.shape).toEqual([4]);
    await expectSameOutputs(m, many.model, { x: f32([2, 4], [1, 2, 3, 4, 5, 6, 7, 8]) }, ['y']);
  });

  it('takes a known If condition (merged decoder, no cache)', async () => {
    const m = emptyModel(17, 'merged');
    const gb = new GraphBuilder(m.graph);
    gb.input('x', 'float32', ['batch', 3]);
    gb.input('past', 'float32', ['batch', 'past_seq', 3]);
    gb.input('use_cache_branch', 'bool', [1]);
    const withPast = emptyGraph('with_past');
    const wb = new GraphBuilder(withPast, 'past/');
    wb.op('ReduceSum', ['past', 'axes_p'], { keepdims: 0 }, { output: 'p_sum' });
    withPast.initializers.set('axes_p', i64([1], [1]));
    wb.op('Add', ['x', 'p_sum'], {}, { output: 'with_y' });
    withPast.outputs.push({ name: 'with_y', dtype: 'float32', shape: null });
    const noPast = emptyGraph('no_past');
    new GraphBuilder(noPast, 'nopast/').op('Add', ['x', 'x'], {}, { output: 'no_y' });
    noPast.outputs.push({ name: 'no_y', dtype: 'float32', shape: null });
    gb.node('If', ['use_cache_branch'], { then_branch: withPast, else_branch: noPast }, { outputs: ['y'] });
    gb.output('y', 'float32', null);
    const { model } = await specialize(m, { x: [2, 3] }, probeShapes, { known: { use_cache_branch: false } });
    expect(model.graph.inputs.map((v) => v.name)).toEqual(['x']);
    expect(ops(model)).toEqual(['Add']);
    const out = await run(model, { x: f32([2, 3], [1, 2, 3, 4, 5, 6]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([2, 4, 6, 8, 10, 12]);
  });

  it('reports a Shape of a data-dependent value as a leftover naming the node', async () => {
    const m = emptyModel(17, 'dynamic');
    const gb = new GraphBuilder(m.graph);
    const x = gb.input('x', 'int64', ['n']);
    const nz = gb.op('NonZero', [x], {}, { name: 'find_tokens' });
    const count = gb.op('Shape', [nz], {}, { name: 'count_tokens' });
    gb.op('Identity', [count], {}, { output: 'count' });
    // A reshape whose target comes from token values is data-dependent too.
    const r = gb.op('Reshape', [gb.op('Cast', [x], { to: 1 }), x], {}, { name: 'reshape_by_values' });
    gb.op('Shape', [r], {}, { name: 'shape_of_reshape', output: 'rshape' });
    gb.output('count', 'int64', [2]);
    gb.output('rshape', 'int64', [1]);
    await expect(specialize(m, { x: [1] }, probeShapes)).rejects.toThrow(
      /node 'count_tokens' \(Shape\) reads '.*', whose shape is dynamic: node 'find_tokens' \(NonZero\) has a data-dependent output shape/,
    );
    const res = await specialize(m, { x: [1] }, probeShapes, { allowDynamic: true, feeds: { x: i64([1], [1]) } });
    expect(res.leftovers.map((l) => l.node)).toEqual(['count_tokens', 'shape_of_reshape']);
    expect(res.leftovers[1]!.message).toMatch(/'reshape_by_values' \(Reshape\) takes its output shape from the non-constant value 'x'/);
    const feeds: Record<string, Tensor> = { x: i64([1], [1]) };
    await expectSameOutputs(m, res.model, feeds, ['count', 'rshape']);
  });

  it('names inputs with missing or wrong dims', async () => {
    const m = shapeArithmetic();
    await expect(specialize(m, {}, probeShapes)).rejects.toThrow(/input 'x' has shape \[batch,seq,8\]; pass its concrete dims/);
    await expect(specialize(m, { x: [2, 5] }, probeShapes)).rejects.toThrow(/input 'x' has rank 3/);
    await expect(specialize(m, { x: [2, 5, 9] }, probeShapes)).rejects.toThrow(/input 'x' axis 2 is fixed to 8, got 9/);
    await expect(specialize(m, { x: [2, 5, 8], mask: [2, 5] }, probeShapes)).rejects.toThrow(/'mask' is not an input of graph 'shape_math'/);
  });
});
