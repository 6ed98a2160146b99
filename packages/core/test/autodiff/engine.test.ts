/**
 * The engine on small graphs built from math ops only: gradients w.r.t. inputs, initializers and
 * intermediate values against central finite differences of the whole graph (float64, eps 1e-6),
 * fan-out accumulation, explicit seeds for per-example objectives, integer paths, structurally
 * zero gradients and the missing-rule error.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, emptyModel, runModel, tensor, numel, halfToFloat, type Model, type Tensor } from '../../src/index.js';
import { floatToHalfBits } from '../../src/onnx/tensor.js';
import { buildGradientGraph, registeredOps } from '../../src/autodiff/index.js';
import { probeShapes } from '../../src/runtime/shape-probe.js';
import { randn } from '../helpers/gradcheck.js';
import { graphFiniteDiff, spreadIndices } from '../helpers/graph-fd.js';

/** x [3,4] (input) -> MatMul W [4,5] (initializer) -> Tanh -> MatMul u [5] -> [3] per-row -> MatMul ones [3] -> loss. */
function mlp(): { model: Model; feeds: Record<string, Tensor> } {
  const model = emptyModel(17, 'mlp');
  const b = new GraphBuilder(model.graph);
  b.input('x', 'float64', [3, 4]);
  b.initializer('W', randn([4, 5], 2));
  b.initializer('u', randn([5], 3));
  b.initializer('ones3', tensor('float64', [3], [1, 1, 1]));
  const h = b.op('MatMul', ['x', 'W'], {}, { name: '/mlp/fc/MatMul', output: 'h' });
  const a = b.op('Tanh', [h], {}, { name: '/mlp/act/Tanh', output: 'a' });
  const rows = b.op('MatMul', [a, 'u'], {}, { name: '/mlp/head/MatMul', output: 'rows' });
  b.op('MatMul', [rows, 'ones3'], {}, { name: '/mlp/sum/MatMul', output: 'loss' });
  b.output('loss', 'float64', []);
  b.output('rows', 'float64', [3]);
  return { model, feeds: { x: randn([3, 4], 1) } };
}

async function expectMatchesFd(
  model: Model,
  feeds: Record<string, Tensor>,
  objective: string,
  wrt: string[],
  opts: { seed?: Tensor; seedName?: string; tol?: number } = {},
) {
  const seedFeeds = opts.seedName && opts.seed ? { [opts.seedName]: opts.seed } : {};
  const { model: gm, gradients } = await buildGradientGraph(model, { objective, wrt, feeds, ...(opts.seedName ? { seed: opts.seedName } : {}) });
  const res = await runModel(gm, { ...feeds, ...seedFeeds });
  for (const w of wrt) {
    const g = res[gradients.get(w)!]!;
    const n = numel(g.dims);
    const idx = spreadIndices(n, 12);
    const numeric = await graphFiniteDiff(model, w, idx, { objective, feeds, eps: 1e-6, ...(opts.seed ? { seed: opts.seed } : {}) });
    idx.forEach((i, k) => {
      const analytic = Number((g.data as Float64Array)[i]);
      expect(Math.abs(analytic - numeric[k]!), `d${objective}/d${w}[${i}]: analytic ${analytic}, numeric ${numeric[k]}`).toBeLessThan(
        (opts.tol ?? 1e-6) * Math.max(1, Math.abs(numeric[k]!)),
      );
    });
  }
  return { gm, gradients, res };
}

describe('buildGradientGraph', () => {
  it('registers the math rules', () => {
    for (const op of ['MatMul', 'Gemm', 'Softmax', 'LayerNormalization', 'Gelu']) expect(registeredOps()).toContain(op);
  });

  it('differentiates w.r.t. a graph input, an initializer and an intermediate value', async () => {
    const { model, feeds } = mlp();
    const { gm, gradients, res } = await expectMatchesFd(model, feeds, 'loss', ['x', 'W', 'a']);
    expect([...gradients.entries()]).toEqual([
      ['x', 'grad/x'],
      ['W', 'grad/W'],
      ['a', 'grad/a'],
    ]);
    // Original outputs are kept and come first; gradient outputs have the wrt shapes.
    expect(gm.graph.outputs.map((o) => o.name)).toEqual(['loss', 'rows', 'grad/x', 'grad/W', 'grad/a']);
    expect(res['grad/W']!.dims).toEqual([4, 5]);
    // The forward graph itself is not modified.
    expect(model.graph.nodes.length).toBe(4);
    expect(model.graph.outputs.length).toBe(2);
  });

  it('accumulates gradients of a value with several consumers (fan-out)', async () => {
    const model = emptyModel(17, 'fanout');
    const b = new GraphBuilder(model.graph);
    b.input('x', 'float64', [2, 3]);
    b.initializer('w', randn([3], 5));
    const s = b.op('Sin', ['x'], {}, { name: 'sin', output: 's' });
    const p = b.op('Mul', ['x', s], {}, { name: 'x_times_sin', output: 'p' }); // x feeds Sin and Mul
    const q = b.op('Mul', [p, 'x'], {}, { name: 'p_times_x', output: 'q' }); // and a third consumer
    const e = b.op('Exp', [b.op('Mul', [q, 'w'])], {}, { name: 'exp' });
    b.op('MatMul', [b.op('MatMul', [e, b.constant(tensor('float64', [3], [1, -2, 0.5]))]), b.constant(tensor('float64', [2], [1, 1]))], {}, { output: 'loss' });
    b.output('loss', 'float64', []);
    const feeds = { x: randn([2, 3], 6, 'float64', 0.5) };
    const { gm } = await expectMatchesFd(model, feeds, 'loss', ['x', 'w']);
    // x has three consumers: its gradient is their contributions added in a chain of two Adds.
    const adds = gm.graph.nodes.filter((n) => n.opType === 'Add' && n.name.includes('accumulate'));
    expect(adds.some((n) => adds.some((m) => n.inputs.includes(m.outputs[0]!)))).toBe(true);
  });

  it('per-example objective with an explicit seed input differentiates sum(seed * objective)', async () => {
    const { model, feeds } = mlp();
    const seed = tensor('float64', [3], [0.5, -1, 2]);
    const { gm } = await expectMatchesFd(model, feeds, 'rows', ['W', 'x'], { seed, seedName: 'dRows' });
    expect(gm.graph.inputs.some((i) => i.name === 'dRows')).toBe(true);
    // With a one-hot seed, row 1's gradient w.r.t. x is zero outside row 1 (examples are independent).
    const onehot = tensor('float64', [3], [0, 1, 0]);
    const res = await runModel(gm, { ...feeds, dRows: onehot });
    const gx = Array.from(res['grad/x']!.data as Float64Array);
    expect(gx.slice(0, 4).every((v) => v === 0) && gx.slice(8).every((v) => v === 0)).toBe(true);
    expect(gx.slice(4, 8).some((v) => v !== 0)).toBe(true);
  });

  it('default seed for a non-scalar objective is ones (the gradient of its sum)', async () => {
    const { model, feeds } = mlp();
    const { model: gm, gradients } = await buildGradientGraph(model, { objective: 'rows', wrt: ['W'], feeds });
    const { model: gm2 } = await buildGradientGraph(model, { objective: 'loss', wrt: ['W'], feeds });
    const r1 = await runModel(gm, feeds);
    const r2 = await runModel(gm2, feeds);
    expect(Array.from(r1[gradients.get('W')!]!.data as Float64Array)).toEqual(Array.from(r2['grad/W']!.data as Float64Array));
  });

  it('ignores integer paths and non-differentiable ops, and gives zeros for unreachable wrt', async () => {
    const model = emptyModel(17, 'intpath');
    const b = new GraphBuilder(model.graph);
    b.input('x', 'float64', [4]);
    b.initializer('unused', randn([2, 2], 9));
    const sq = b.op('Mul', ['x', 'x'], {}, { output: 'sq' });
    // Float -> int64 -> Mod (no gradient rule, but integer) -> float: must not be differentiated.
    const asInt = b.op('Cast', [b.op('Mul', [sq, b.scalar(10, 'float64')])], { to: 7 });
    const modded = b.op('Mod', [asInt, b.constant(tensor('int64', [], [3]))], {}, { name: 'int_mod' });
    const back = b.op('Cast', [modded], { to: 11 });
    // Float -> ArgMax (non-differentiable op) -> float.
    const am = b.op('Cast', [b.op('ArgMax', ['x'], { keepdims: 1 })], { to: 11 });
    const total = b.op('Add', [b.op('Add', [sq, back]), am]);
    b.op('MatMul', [total, b.constant(tensor('float64', [4], [1, 1, 1, 1]))], {}, { output: 'loss' });
    b.output('loss', 'float64', []);
    const xv = tensor('float64', [4], [0.3, -1.2, 0.7, 2]);
    const { model: gm, gradients } = await buildGradientGraph(model, { objective: 'loss', wrt: ['x', 'unused'], feeds: { x: xv } });
    const res = await runModel(gm, { x: xv });
    expect(Array.from(res[gradients.get('x')!]!.data as Float64Array)).toEqual([0.6, -2.4, 1.4, 4]); // d sum(x^2) = 2x
    const z = res[gradients.get('unused')!]!;
    expect(z.dims).toEqual([2, 2]);
    expect(Array.from(z.data as Float64Array)).toEqual([0, 0, 0, 0]);
    expect(gm.graph.nodes.filter((n) => n.opType === 'Mod').length).toBe(1); // only the forward one
  });

  it('names the op, the node and the path when a rule is missing', async () => {
    // Ops of a private domain have no rule; shapes are given, since ORT cannot run them.
    const shapesFor = (names: string[]) => new Map(names.map((n) => [n, { dtype: 'float32' as const, dims: n === 'loss' ? [] : [3] }]));
    const model = emptyModel(17, 'missing');
    model.opsetImports.push({ domain: 'com.example', version: 1 });
    const b = new GraphBuilder(model.graph);
    b.input('x', 'float32', [3]);
    const ones = b.constant(tensor('float32', [3], [1, 1, 1]), 'ones');
    const f = b.op('Foo', ['x'], {}, { name: '/model/foo', output: 'f', domain: 'com.example' });
    const t = b.op('Tanh', [f], {}, { name: '/model/act', output: 't' });
    b.op('MatMul', [t, ones], {}, { name: '/x/Sum', output: 'loss' });
    b.output('loss', 'float32', []);
    const shapes = shapesFor(['x', 'f', 't', 'loss', ones]);
    await expect(buildGradientGraph(model, { objective: 'loss', wrt: ['x'], shapes })).rejects.toThrow(
      "no gradient rule for op 'com.example:Foo' (node '/model/foo') on the path objective <- /x/Sum <- /model/act <- /model/foo (objective 'loss')",
    );
    // The same op off the path (the wrt value is downstream of it) is no error.
    const { model: gm } = await buildGradientGraph(model, { objective: 'loss', wrt: ['t'], shapes });
    expect(gm.graph.outputs.map((o) => o.name)).toContain('grad/t');

    // Several missing ops: the one nearest the objective is reported with its path, the rest by name.
    const m2 = emptyModel(17, 'missing2');
    m2.opsetImports.push({ domain: 'com.example', version: 1 });
    const b2 = new GraphBuilder(m2.graph);
    b2.input('x', 'float32', [3]);
    const ones2 = b2.constant(tensor('float32', [3], [1, 1, 1]), 'ones');
    b2.op('Foo', ['x'], {}, { name: '/a/foo', output: 's1', domain: 'com.example' });
    b2.op('Bar', ['s1'], {}, { name: '/b/bar', output: 's2', domain: 'com.example' });
    b2.op('Foo', ['s2'], {}, { name: '/c/foo', output: 's3', domain: 'com.example' });
    b2.op('MatMul', ['s3', ones2], {}, { name: '/sum', output: 'loss' });
    b2.output('loss', 'float32', []);
    await expect(buildGradientGraph(m2, { objective: 'loss', wrt: ['x'], shapes: shapesFor(['x', 's1', 's2', 's3', 'loss', ones2]) })).rejects.toThrow(
      "no gradient rule for op 'com.example:Foo' (node '/c/foo') on the path objective <- /sum <- /c/foo (objective 'loss'); 2 nodes of this op are on differentiable paths; other ops without a rule on those paths: 'com.example:Bar' (1 node)",
    );
  });

  it('a control-flow node reading a path value only inside its subgraph is reported, not skipped', async () => {
    const model = emptyModel(17, 'ifgraph');
    const b = new GraphBuilder(model.graph);
    b.input('x', 'float32', [3]);
    b.input('cond', 'bool', []);
    b.op('Tanh', ['x'], {}, { name: '/pre', output: 'h' });
    const branch = (op: string) => {
      const g = emptyModel(17, op).graph;
      g.nodes.push({ name: `/${op}`, opType: op, domain: '', inputs: ['h'], outputs: [`${op}_y`], attributes: {} });
      g.outputs.push({ name: `${op}_y`, dtype: 'float32', shape: [3] });
      return g;
    };
    b.op('If', ['cond'], { then_branch: branch('Exp'), else_branch: branch('Neg') }, { name: '/model/if', output: 'y' });
    b.op('MatMul', ['y', b.constant(tensor('float32', [3], [1, 1, 1]))], {}, { name: '/sum', output: 'loss' });
    b.output('loss', 'float32', []);
    const feeds = { x: randn([3], 2, 'float32'), cond: tensor('bool', [], [1]) };
    await expect(buildGradientGraph(model, { objective: 'loss', wrt: ['x'], feeds })).rejects.toThrow(
      "no gradient rule for op 'If' (node '/model/if') on the path objective <- /sum <- /model/if",
    );
  });

  it('rejects bad requests with clear errors', async () => {
    const { model, feeds } = mlp();
    await expect(buildGradientGraph(model, { objective: 'nope', wrt: ['x'], feeds })).rejects.toThrow(/objective 'nope' is not a value/);
    await expect(buildGradientGraph(model, { objective: 'loss', wrt: ['zz'], feeds })).rejects.toThrow(/wrt value 'zz'/);
    await expect(buildGradientGraph(model, { objective: 'loss', wrt: [], feeds })).rejects.toThrow(/wrt is empty/);
  });

  it('keepOutputs: false leaves only gradient outputs; gradient names are sanitised', async () => {
    const model = emptyModel(17, 'names');
    const b = new GraphBuilder(model.graph);
    b.input('x', 'float64', [2]);
    b.initializer('model.layers.0/w eight', randn([2], 4));
    b.op('MatMul', [b.op('Mul', ['x', 'model.layers.0/w eight'])], {}, {});
    model.graph.nodes.pop();
    const y = b.op('Mul', ['x', 'model.layers.0/w eight']);
    b.op('MatMul', [y, b.constant(tensor('float64', [2], [1, 1]))], {}, { output: 'loss' });
    b.output('loss', 'float64', []);
    const feeds = { x: tensor('float64', [2], [3, 4]) };
    const shapes = await probeShapes(model, feeds);
    const { model: gm, gradients } = await buildGradientGraph(model, { objective: 'loss', wrt: ['model.layers.0/w eight'], shapes, keepOutputs: false });
    expect(gradients.get('model.layers.0/w eight')).toBe('grad/model.layers.0/w_eight');
    expect(gm.graph.outputs.map((o) => o.name)).toEqual(['grad/model.layers.0/w_eight']);
    const res = await runModel(gm, feeds);
    expect(Array.from(res['grad/model.layers.0/w_eight']!.data as Float64Array)).toEqual([3, 4]);
  });

  it('gradient outputs keep the name grad/<wrt> even when rule-generated names would collide', async () => {
    const model = emptyModel(17, 'collide');
    const b = new GraphBuilder(model.graph);
    b.input('x', 'float64', [3]);
    // 'Mul_out0' is what the builder would name the first emitted Mul's output under the prefix.
    const m = b.op('Mul', ['x', 'x'], {}, { output: 'Mul_out0' });
    b.op('MatMul', [b.op('Mul', [m, 'x']), b.constant(tensor('float64', [3], [1, 1, 1]))], {}, { output: 'loss' });
    b.output('loss', 'float64', []);
    const feeds = { x: tensor('float64', [3], [1, 2, 3]) };
    const { model: gm, gradients } = await buildGradientGraph(model, { objective: 'loss', wrt: ['Mul_out0', 'x'], feeds });
    expect(gradients.get('Mul_out0')).toBe('grad/Mul_out0');
    const res = await runModel(gm, feeds);
    expect(Array.from(res['grad/Mul_out0']!.data as Float64Array)).toEqual([1, 2, 3]);
    expect(Array.from(res['grad/x']!.data as Float64Array)).toEqual([3, 12, 27]); // d sum(x^3) = 3x^2
  });

  it('emits float32 gradient graphs for float32 models', async () => {
    const model = emptyModel(17, 'f32');
    const b = new GraphBuilder(model.graph);
    b.input('x', 'float32', [2, 3]);
    b.initializer('W', randn([3, 2], 7, 'float32'));
    const z = b.op('Softmax', [b.op('MatMul', ['x', 'W'])], { axis: -1 });
    const lp = b.op('Log', [z]);
    b.op('MatMul', [b.op('MatMul', [lp, b.constant(tensor('float32', [2], [1, 0]))]), b.constant(tensor('float32', [2], [1, 1]))], {}, { output: 'loss' });
    b.output('loss', 'float32', []);
    const feeds = { x: randn([2, 3], 8, 'float32') };
    const { model: gm } = await buildGradientGraph(model, { objective: 'loss', wrt: ['W'], feeds });
    const res = await runModel(gm, feeds);
    expect(res['grad/W']!.dtype).toBe('float32');
    const shapes = await probeShapes(gm, feeds);
    for (const [name, m] of shapes) if (name.startsWith('grad/') && m.dtype.startsWith('float')) expect(m.dtype, name).toBe('float32');
  });

  it('float16 graphs: emitted constants are real half values (checked against the formula)', async () => {
    const model = emptyModel(17, 'f16');
    const b = new GraphBuilder(model.graph);
    b.input('x', 'float16', [4]);
    const sq = b.op('Pow', ['x', b.constant(tensor('float16', [], [floatToHalfBits(2)]))]);
    const s = b.op('Mul', [b.op('Sqrt', [sq]), b.constant(tensor('float16', [], [floatToHalfBits(1.5)]))]);
    b.op('ReduceSum', [b.op('Sigmoid', [s])], { keepdims: 0 }, { output: 'loss' });
    b.output('loss', 'float16', []);
    const xs = [0.5, 1, 2, 3];
    const feeds = { x: tensor('float16', [4], xs.map(floatToHalfBits)) };
    const { model: gm } = await buildGradientGraph(model, { objective: 'loss', wrt: ['x'], feeds });
    const got = Array.from((await runModel(gm, feeds))['grad/x']!.data as Uint16Array, halfToFloat);
    // d/dx sigmoid(1.5 sqrt(x^2)) = 1.5 s (1 - s) for x > 0
    xs.forEach((x, i) => {
      const sg = 1 / (1 + Math.exp(-1.5 * x));
      expect(got[i]!).toBeCloseTo(1.5 * sg * (1 - sg), 3);
    });
  });
});
