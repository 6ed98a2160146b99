import { describe, expect, it } from 'vitest';
import { GraphBuilder, emptyModel, evaluateNode, foldConstants, f32, i64, tensor, toNumbers, type AttrInput, type Node, type Tensor } from '../../src/index.js';
import { expectSameOutputs, plain, run, untypedOutputs } from './helpers.js';

interface Case {
  name: string;
  op: string;
  inputs: (Tensor | null)[];
  attrs?: Record<string, AttrInput>;
  opset?: number;
  outputs?: number;
}

const INT64_MAX = 9223372036854775807n;

const b = (dims: number[], v: number[]) => tensor('bool', dims, v);

const CASES: Case[] = [
  { name: 'Shape with start', op: 'Shape', inputs: [f32([2, 3, 4])], attrs: { start: 1 }, opset: 15 },
  { name: 'Shape with negative end', op: 'Shape', inputs: [f32([2, 3, 4])], attrs: { end: -1 }, opset: 15 },
  { name: 'Size', op: 'Size', inputs: [f32([2, 3, 4])] },
  { name: 'Gather negative index', op: 'Gather', inputs: [i64([5], [10, 11, 12, 13, 14]), i64([2], [-1, 0])] },
  { name: 'Gather scalar index', op: 'Gather', inputs: [i64([3], [4, 5, 6]), i64([], [2])] },
  { name: 'Gather axis 1, 2-D indices', op: 'Gather', inputs: [f32([2, 3], [1, 2, 3, 4, 5, 6]), i64([2, 2], [0, 2, 1, 1])], attrs: { axis: 1 } },
  { name: 'Concat int64', op: 'Concat', inputs: [i64([1], [2]), i64([2], [3, 4]), i64([0], [])], attrs: { axis: 0 } },
  { name: 'Concat axis -1', op: 'Concat', inputs: [f32([2, 1], [1, 2]), f32([2, 2], [3, 4, 5, 6])], attrs: { axis: -1 } },
  { name: 'Unsqueeze 13', op: 'Unsqueeze', inputs: [i64([3], [1, 2, 3]), i64([2], [0, -1])], opset: 13 },
  { name: 'Unsqueeze 11', op: 'Unsqueeze', inputs: [i64([], [7])], attrs: { axes: [0] }, opset: 11 },
  { name: 'Squeeze 13', op: 'Squeeze', inputs: [f32([2, 1, 3], [1, 2, 3, 4, 5, 6]), i64([1], [1])], opset: 13 },
  { name: 'Squeeze all', op: 'Squeeze', inputs: [i64([1, 1], [9])], opset: 13 },
  {
    name: 'Reshape 0 and -1',
    op: 'Reshape',
    inputs: [
      f32(
        [2, 3, 4],
        Array.from({ length: 24 }, (_, i) => i),
      ),
      i64([3], [0, -1, 2]),
    ],
  },
  {
    name: 'Flatten',
    op: 'Flatten',
    inputs: [
      f32(
        [2, 3, 2],
        Array.from({ length: 12 }, (_, i) => i),
      ),
    ],
    attrs: { axis: 2 },
  },
  { name: 'ConstantOfShape int64', op: 'ConstantOfShape', inputs: [i64([2], [2, 3])], attrs: { value: i64([1], [7]) } },
  { name: 'ConstantOfShape default', op: 'ConstantOfShape', inputs: [i64([1], [4])] },
  { name: 'ConstantOfShape scalar', op: 'ConstantOfShape', inputs: [i64([0], [])], attrs: { value: tensor('bool', [1], [1]) } },
  { name: 'Range int64', op: 'Range', inputs: [i64([], [0]), i64([], [7]), i64([], [2])] },
  { name: 'Range negative delta', op: 'Range', inputs: [i64([], [5]), i64([], [-3]), i64([], [-2])] },
  { name: 'Range empty', op: 'Range', inputs: [i64([], [5]), i64([], [2]), i64([], [1])] },
  { name: 'Range float32', op: 'Range', inputs: [f32([], [0.1]), f32([], [1.0]), f32([], [0.3])] },
  { name: 'Cast int64 to float', op: 'Cast', inputs: [i64([3], [-3, 0, 5])], attrs: { to: 1 } },
  { name: 'Cast float to int64 truncates', op: 'Cast', inputs: [f32([3], [-2.7, 2.7, 0.5])], attrs: { to: 7 } },
  { name: 'Cast INT64_MAX to int32', op: 'Cast', inputs: [i64([2], [INT64_MAX, -5n])], attrs: { to: 6 } },
  { name: 'Cast bool to float', op: 'Cast', inputs: [b([2], [1, 0])], attrs: { to: 1 } },
  { name: 'Cast float to bool', op: 'Cast', inputs: [f32([3], [0, -0.5, 2])], attrs: { to: 9 } },
  { name: 'Add broadcast int64', op: 'Add', inputs: [i64([2, 1], [1, 2]), i64([3], [10, 20, 30])] },
  { name: 'Sub int64', op: 'Sub', inputs: [i64([2], [1, 2]), i64([], [5])] },
  { name: 'Mul int64', op: 'Mul', inputs: [i64([2], [3, -4]), i64([2], [5, 6])] },
  { name: 'Mul int32', op: 'Mul', inputs: [tensor('int32', [2], [3, -4]), tensor('int32', [1], [7])] },
  { name: 'Div int64 truncates', op: 'Div', inputs: [i64([4], [-7, 7, -8, 9]), i64([4], [2, -2, 3, 3])] },
  { name: 'Div float32', op: 'Div', inputs: [f32([3], [1, 2, 10]), f32([1], [3])] },
  { name: 'Mod int64', op: 'Mod', inputs: [i64([4], [-7, 7, -7, 7]), i64([4], [3, -3, -3, 3])] },
  { name: 'Mod int64 fmod', op: 'Mod', inputs: [i64([4], [-7, 7, -7, 7]), i64([4], [3, -3, -3, 3])], attrs: { fmod: 1 } },
  { name: 'Mod float fmod', op: 'Mod', inputs: [f32([2], [-7.5, 7.5]), f32([2], [2, 2])], attrs: { fmod: 1 } },
  { name: 'Pow int64', op: 'Pow', inputs: [i64([3], [2, 3, -2]), i64([1], [3])] },
  { name: 'Neg', op: 'Neg', inputs: [i64([2], [3, -4])] },
  { name: 'Abs', op: 'Abs', inputs: [f32([2], [3, -4.5])] },
  { name: 'Sqrt float32', op: 'Sqrt', inputs: [f32([3], [2, 64, 0.3])] },
  { name: 'Reciprocal float32', op: 'Reciprocal', inputs: [f32([2], [3, 7])] },
  { name: 'Floor/Ceil input', op: 'Floor', inputs: [f32([3], [-1.5, 1.5, 2])] },
  { name: 'Ceil', op: 'Ceil', inputs: [f32([3], [-1.5, 1.5, 2])] },
  { name: 'Equal int64', op: 'Equal', inputs: [i64([3], [1, 2, 3]), i64([], [2])] },
  { name: 'Less', op: 'Less', inputs: [i64([2, 1], [0, 1]), i64([3], [0, 1, 2])] },
  { name: 'LessOrEqual', op: 'LessOrEqual', inputs: [f32([3], [1, 2, 3]), f32([1], [2])], opset: 16 },
  { name: 'Greater', op: 'Greater', inputs: [f32([3], [1, 2, 3]), f32([1], [2])] },
  { name: 'GreaterOrEqual', op: 'GreaterOrEqual', inputs: [i64([3], [1, 2, 3]), i64([1], [2])], opset: 16 },
  { name: 'And', op: 'And', inputs: [b([4], [1, 1, 0, 0]), b([4], [1, 0, 1, 0])] },
  { name: 'Or', op: 'Or', inputs: [b([4], [1, 1, 0, 0]), b([4], [1, 0, 1, 0])] },
  { name: 'Xor', op: 'Xor', inputs: [b([4], [1, 1, 0, 0]), b([4], [1, 0, 1, 0])] },
  { name: 'Not', op: 'Not', inputs: [b([2], [1, 0])] },
  { name: 'Min variadic', op: 'Min', inputs: [i64([3], [5, 1, 9]), i64([1], [4]), i64([3], [6, 0, 7])] },
  { name: 'Max float', op: 'Max', inputs: [f32([3], [5, 1, 9]), f32([1], [4])] },
  { name: 'Where', op: 'Where', inputs: [b([2, 1], [1, 0]), f32([3], [1, 2, 3]), f32([], [-1])] },
  { name: 'Where int64', op: 'Where', inputs: [b([3], [1, 0, 1]), i64([3], [1, 2, 3]), i64([3], [-1, -2, -3])] },
  { name: 'Slice INT64_MAX end', op: 'Slice', inputs: [i64([5], [0, 1, 2, 3, 4]), i64([1], [1]), i64([1], [INT64_MAX])] },
  {
    name: 'Slice negative step',
    op: 'Slice',
    inputs: [
      f32(
        [2, 5],
        Array.from({ length: 10 }, (_, i) => i),
      ),
      i64([1], [-1]),
      i64([1], [-INT64_MAX]),
      i64([1], [1]),
      i64([1], [-2]),
    ],
  },
  {
    name: 'Slice 2 axes',
    op: 'Slice',
    inputs: [
      f32(
        [3, 4],
        Array.from({ length: 12 }, (_, i) => i),
      ),
      i64([2], [1, -3]),
      i64([2], [3, -1]),
      i64([2], [0, 1]),
    ],
  },
  { name: 'Slice opset 9 attrs', op: 'Slice', inputs: [i64([4], [1, 2, 3, 4])], attrs: { starts: [1], ends: [3], axes: [0] }, opset: 9 },
  { name: 'Expand', op: 'Expand', inputs: [f32([3, 1], [1, 2, 3]), i64([3], [2, 1, 2])] },
  {
    name: 'Transpose',
    op: 'Transpose',
    inputs: [
      f32(
        [2, 3, 2],
        Array.from({ length: 12 }, (_, i) => i),
      ),
    ],
    attrs: { perm: [2, 0, 1] },
  },
  { name: 'Transpose default', op: 'Transpose', inputs: [i64([2, 3], [1, 2, 3, 4, 5, 6])] },
  { name: 'Tile', op: 'Tile', inputs: [i64([2, 2], [1, 2, 3, 4]), i64([2], [2, 3])] },
  {
    name: 'Trilu lower',
    op: 'Trilu',
    inputs: [
      f32(
        [4, 4],
        Array.from({ length: 16 }, (_, i) => i + 1),
      ),
    ],
    attrs: { upper: 0 },
  },
  {
    name: 'Trilu upper k=1',
    op: 'Trilu',
    inputs: [
      f32(
        [2, 3, 3],
        Array.from({ length: 18 }, (_, i) => i + 1),
      ),
      i64([], [1]),
    ],
  },
  { name: 'Split 13', op: 'Split', inputs: [i64([5], [1, 2, 3, 4, 5]), i64([2], [2, 3])], outputs: 2, opset: 13 },
  {
    name: 'Split 18 num_outputs',
    op: 'Split',
    inputs: [
      f32(
        [2, 5],
        Array.from({ length: 10 }, (_, i) => i),
      ),
    ],
    attrs: { axis: 1, num_outputs: 3 },
    outputs: 3,
    opset: 18,
  },
  { name: 'ReduceProd int64', op: 'ReduceProd', inputs: [i64([2, 3], [1, 2, 3, 4, 5, 6])], attrs: { axes: [1], keepdims: 0 }, opset: 13 },
  { name: 'ReduceSum int64 axes input', op: 'ReduceSum', inputs: [i64([2, 3], [1, 2, 3, 4, 5, 6]), i64([1], [0])], opset: 13 },
  { name: 'ReduceMax float all', op: 'ReduceMax', inputs: [f32([2, 2], [1, 7, 3, 4])], attrs: { keepdims: 0 }, opset: 13 },
  { name: 'Identity', op: 'Identity', inputs: [i64([2], [1, 2])] },
];

/** A model with one node whose inputs are all graph inputs (so nothing is folded inside ORT). */
function singleNode(c: Case) {
  const opset = c.opset ?? 17;
  const m = emptyModel(opset, c.name);
  const gb = new GraphBuilder(m.graph);
  const feeds: Record<string, Tensor> = {};
  const names = c.inputs.map((t, i) => {
    if (!t) return '';
    const n = gb.input(`in${i}`, t.dtype, t.dims);
    feeds[n] = t;
    return n;
  });
  const outs = gb.node(c.op, names, c.attrs ?? {}, { outputs: Array.from({ length: c.outputs ?? 1 }, (_, i) => `out${i}`) });
  for (const o of outs) gb.output(o, 'float32', null);
  return { model: m, feeds, node: m.graph.nodes[0]!, opset };
}

describe('evaluateNode agrees with onnxruntime', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const { model, feeds, node, opset } = singleNode(c);
    const ort = await run(untypedOutputs(model), feeds);
    const mine = evaluateNode(
      node,
      c.inputs.map((t) => t ?? undefined),
      { opset },
    );
    expect(mine, 'evaluator declined').not.toBeNull();
    expect(mine!.length).toBe(node.outputs.length);
    node.outputs.forEach((o, i) => expect(plain(mine![i]!), o).toEqual(plain(ort[o]!)));
  });

  it('declines what it cannot compute exactly', () => {
    const pow: Node = { name: 'p', opType: 'Pow', domain: '', inputs: ['a', 'b'], outputs: ['y'], attributes: {} };
    expect(evaluateNode(pow, [f32([1], [2]), f32([1], [0.5])], { opset: 17 })).toBeNull();
    const add: Node = { name: 'h', opType: 'Add', domain: '', inputs: ['a', 'b'], outputs: ['y'], attributes: {} };
    const half = tensor('float16', [1], [0x3c00]);
    expect(evaluateNode(add, [half, half], { opset: 17 })).toBeNull();
    const mm: Node = { name: 'm', opType: 'MatMul', domain: '', inputs: ['a', 'b'], outputs: ['y'], attributes: {} };
    expect(evaluateNode(mm, [f32([1, 1], [2]), f32([1, 1], [3])], { opset: 17 })).toBeNull();
    const big: Node = { name: 'c', opType: 'ConstantOfShape', domain: '', inputs: ['s'], outputs: ['y'], attributes: {} };
    expect(evaluateNode(big, [i64([2], [4096, 4096])], { opset: 17, maxElements: 1000 })).toBeNull();
  });

  it('names the node on invalid input', () => {
    const g: Node = { name: 'gather_bad', opType: 'Gather', domain: '', inputs: ['a', 'b'], outputs: ['y'], attributes: {} };
    expect(() => evaluateNode(g, [i64([3], [1, 2, 3]), i64([1], [3])], { opset: 17 })).toThrow(/gather_bad.*index 3 is out of range/);
  });
});

describe('foldConstants', () => {
  it('folds a shape chain into initializers and keeps the outputs', async () => {
    const m = emptyModel(17, 'fold');
    const gb = new GraphBuilder(m.graph);
    const x = gb.input('x', 'float32', [2, 6]);
    const c = gb.op('Constant', [], { value: i64([2], [3, 4]) });
    const prod = gb.op('Mul', [gb.op('Gather', [c, gb.ints([0])]), gb.op('Gather', [c, gb.ints([1])])]);
    const half = gb.op('Div', [prod, gb.ints([2])]);
    const shape = gb.op('Concat', [gb.ints([-1]), half], { axis: 0 });
    const y = gb.op('Reshape', [x, shape], {}, { output: 'y' });
    gb.output(y, 'float32', null);
    const { model: folded, folded: count } = foldConstants(m);
    expect(count).toBe(6);
    expect(folded.graph.nodes.map((n) => n.opType)).toEqual(['Reshape']);
    expect(toNumbers(folded.graph.initializers.get(folded.graph.nodes[0]!.inputs[1]!)!)).toEqual([-1, 6]);
    const feeds = {
      x: f32(
        [2, 6],
        Array.from({ length: 12 }, (_, i) => i),
      ),
    };
    const out = await expectSameOutputs(m, folded, feeds);
    expect(out.y!.dims).toEqual([2, 6]);
    // The input model is not modified.
    expect(m.graph.nodes).toHaveLength(7);
  });

  it('does not treat an initializer that is also a graph input as constant', () => {
    const m = emptyModel(17, 'override');
    const gb = new GraphBuilder(m.graph);
    gb.input('k', 'int64', [1]);
    m.graph.initializers.set('k', i64([1], [2]));
    const y = gb.op('Add', ['k', gb.ints([1])], {}, { output: 'y' });
    gb.output(y, 'int64', [1]);
    expect(foldConstants(m).folded).toBe(0);
  });

  it('keeps a folded graph output produced by a node', async () => {
    const m = emptyModel(17, 'outconst');
    const gb = new GraphBuilder(m.graph);
    const x = gb.input('x', 'float32', [1]);
    gb.op('Identity', [x], {}, { output: 'xo' });
    gb.op('Add', [gb.ints([1]), gb.ints([2])], {}, { output: 'three' });
    gb.output('xo', 'float32', [1]);
    gb.output('three', 'int64', [1]);
    const f = foldConstants(m).model;
    expect(f.graph.nodes.find((n) => n.outputs[0] === 'three')!.opType).toBe('Identity');
    const out = await run(f, { x: f32([1], [5]) });
    expect(toNumbers(out.three!)).toEqual([3]);
  });
});

describe('foldConstants and weights', () => {
  it('leaves weight math alone unless asked', async () => {
    const m = emptyModel(17, 'weights');
    const gb = new GraphBuilder(m.graph);
    const x = gb.input('x', 'float32', [1, 3]);
    gb.initializer('layer.weight', f32([2, 3], [1, 2, 3, 4, 5, 6]));
    const wt = gb.op('Transpose', ['layer.weight'], { perm: [1, 0] }, { output: 'onnx::MatMul_7' });
    const scale = gb.op('Sqrt', [gb.constant(f32([], [4]), 'four')]);
    gb.op('Div', [gb.op('MatMul', [x, wt]), scale], {}, { output: 'y' });
    gb.output('y', 'float32', [1, 2]);
    const kept = foldConstants(m).model;
    expect(kept.graph.nodes.map((n) => n.opType)).toEqual(['Transpose', 'MatMul', 'Div']);
    expect(kept.graph.initializers.has('layer.weight')).toBe(true);
    const all = foldConstants(m, { keepWeights: false }).model;
    expect(all.graph.nodes.map((n) => n.opType)).toEqual(['MatMul', 'Div']);
    expect(all.graph.initializers.has('layer.weight')).toBe(false);
    expect(all.graph.initializers.get('onnx::MatMul_7')!.dims).toEqual([3, 2]);
    const feeds = { x: f32([1, 3], [1, -1, 2]) };
    const out = await expectSameOutputs(m, kept, feeds, ['y']);
    await expectSameOutputs(m, all, feeds, ['y']);
    expect(Array.from(out.y!.data as Float32Array)).toEqual([(1 - 2 + 6) / 2, (4 - 5 + 12) / 2]);
  });
});
