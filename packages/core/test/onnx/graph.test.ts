import { describe, expect, it } from 'vitest';
import {
  GraphBuilder,
  cloneGraph,
  cloneModel,
  consumers,
  emptyGraph,
  emptyModel,
  f32,
  producers,
  removeDeadNodes,
  renameValue,
  renameValues,
  toNumbers,
  topologicalSort,
  type Graph,
  type Model,
} from '../../src/index.js';
import { expectSameOutputs, run } from './helpers.js';

/** x -> (a = x*2, b = x+1) -> c = a*b -> y = c - w ; plus a dead chain and an unused initializer. */
function diamond(): Model {
  const m = emptyModel(17, 'diamond');
  const gb = new GraphBuilder(m.graph);
  const x = gb.input('x', 'float32', [3]);
  gb.input('unused_in', 'float32', [1]);
  const two = gb.initializer('two', f32([], [2]));
  const one = gb.initializer('one', f32([], [1]));
  const w = gb.initializer('w', f32([3], [0.5, 1, 1.5]));
  gb.initializer('orphan', f32([1], [9]));
  gb.op('Mul', [x, two], {}, { name: 'A', output: 'a' });
  gb.op('Add', [x, one], {}, { name: 'B', output: 'b' });
  gb.op('Neg', ['a'], {}, { name: 'Dead1', output: 'dead1' });
  gb.op('Abs', ['dead1'], {}, { name: 'Dead2', output: 'dead2' });
  gb.op('Mul', ['a', 'b'], {}, { name: 'C', output: 'c' });
  gb.op('Sub', ['c', w], {}, { name: 'Y', output: 'y' });
  gb.output('y', 'float32', [3]);
  m.graph.valueInfo.push({ name: 'dead2', dtype: 'float32', shape: [3] }, { name: 'c', dtype: 'float32', shape: [3] });
  return m;
}

/** A graph whose If branch reads an outer value `h` (not an explicit input of the If). */
function ifReadingOuter(order: 'sorted' | 'if-first'): Model {
  const m = emptyModel(17, 'outer');
  const gb = new GraphBuilder(m.graph);
  const x = gb.input('x', 'float32', [2]);
  const cond = gb.input('cond', 'bool', []);
  const thenG = emptyGraph('then');
  new GraphBuilder(thenG).op('Mul', ['h', 'h'], {}, { name: 'T', output: 't_out' });
  thenG.outputs.push({ name: 't_out', dtype: 'float32', shape: [2] });
  const elseG = emptyGraph('else');
  new GraphBuilder(elseG).op('Neg', ['h'], {}, { name: 'E', output: 'e_out' });
  elseG.outputs.push({ name: 'e_out', dtype: 'float32', shape: [2] });
  gb.op('Add', [x, x], {}, { name: 'H', output: 'h' });
  gb.node('If', [cond], { then_branch: thenG, else_branch: elseG }, { name: 'If', outputs: ['y'] });
  gb.output('y', 'float32', [2]);
  if (order === 'if-first') m.graph.nodes.reverse();
  return m;
}

const names = (g: Graph) => g.nodes.map((n) => n.name);

describe('topologicalSort', () => {
  it('keeps an already sorted graph as it is', () => {
    const m = diamond();
    expect(names(topologicalSort(m.graph))).toEqual(names(m.graph));
  });

  it('sorts a reversed graph stably and the sorted graph runs', async () => {
    const m = diamond();
    const rev = cloneModel(m);
    rev.graph.nodes.reverse(); // Y, C, Dead2, Dead1, B, A
    const sorted = { ...rev, graph: topologicalSort(rev.graph) };
    // Ready first: B (index 4) and A (5); B comes first because it came first in the input list.
    expect(names(sorted.graph)).toEqual(['B', 'A', 'C', 'Y', 'Dead1', 'Dead2']);
    await expectSameOutputs(m, sorted, { x: f32([3], [1, 2, 3]), unused_in: f32([1], [0]) });
  });

  it('names the node and the value nothing produces', () => {
    const m = diamond();
    m.graph.nodes[4]!.inputs[1] = 'bb';
    expect(() => topologicalSort(m.graph)).toThrow(/node 'C' \(Mul\) reads 'bb', which no node, graph input or initializer produces/);
  });

  it('names the nodes and values of a cycle', () => {
    const m = diamond();
    const a = m.graph.nodes.find((n) => n.name === 'A')!;
    a.inputs[0] = 'c'; // A reads c, C reads a
    expect(() => topologicalSort(m.graph)).toThrow(/cycle: .*'A' \(Mul\) reads 'c'.*'C' \(Mul\) reads 'a'/);
  });

  it('orders a producer before an If whose branch reads its value', async () => {
    const m = ifReadingOuter('if-first');
    expect(names(m.graph)).toEqual(['If', 'H']);
    const sorted = { ...m, graph: topologicalSort(m.graph) };
    expect(names(sorted.graph)).toEqual(['H', 'If']);
    const out = await run(sorted, { x: f32([2], [1, -2]), cond: { dtype: 'bool', dims: [], data: new Uint8Array([1]) } });
    expect(toNumbers(out.y!)).toEqual([4, 16]);
  });

  it('reports an unknown value read inside a subgraph against the owning node', () => {
    const m = ifReadingOuter('sorted');
    m.graph.nodes[0]!.outputs[0] = 'h2';
    expect(() => topologicalSort(m.graph)).toThrow(/node 'If' \(If\) reads 'h'/);
  });

  it('reports a value produced twice', () => {
    const m = diamond();
    m.graph.nodes[1]!.outputs[0] = 'a';
    expect(() => topologicalSort(m.graph)).toThrow(/'a' is produced by both node 'A' \(Mul\) and node 'B' \(Add\)/);
  });
});

describe('removeDeadNodes', () => {
  it('drops dead nodes, unused initializers and their value_info, keeping inputs', async () => {
    const m = diamond();
    const g = removeDeadNodes(m.graph);
    expect(names(g)).toEqual(['A', 'B', 'C', 'Y']);
    expect([...g.initializers.keys()].sort()).toEqual(['one', 'two', 'w']);
    expect(g.inputs.map((v) => v.name)).toEqual(['x', 'unused_in']);
    expect(g.valueInfo.map((v) => v.name)).toEqual(['c']);
    await expectSameOutputs(m, { ...m, graph: g }, { x: f32([3], [1, 2, 3]), unused_in: f32([1], [0]) });
    // The input graph is untouched.
    expect(m.graph.nodes).toHaveLength(6);
  });

  it('drops unused inputs on request and keeps extra values alive', () => {
    const m = diamond();
    const g = removeDeadNodes(m.graph, { removeUnusedInputs: true, keep: ['dead2'] });
    expect(g.inputs.map((v) => v.name)).toEqual(['x']);
    expect(names(g)).toEqual(['A', 'B', 'Dead1', 'Dead2', 'C', 'Y']);
  });

  it('keeps the producer of a value read only inside a subgraph', () => {
    const g = removeDeadNodes(ifReadingOuter('sorted').graph);
    expect(names(g)).toEqual(['H', 'If']);
  });
});

describe('renaming', () => {
  it('renames a value everywhere, subgraphs included, and the graph still runs', async () => {
    const m = ifReadingOuter('sorted');
    const r = cloneModel(m);
    renameValue(r.graph, 'h', 'hidden');
    renameValue(r.graph, 'y', 'result');
    expect(r.graph.nodes[0]!.outputs).toEqual(['hidden']);
    const thenG = r.graph.nodes[1]!.attributes.then_branch!;
    expect(thenG.type === 'graph' && thenG.value.nodes[0]!.inputs).toEqual(['hidden', 'hidden']);
    expect(r.graph.outputs[0]!.name).toBe('result');
    const feeds = { x: f32([2], [3, 4]), cond: { dtype: 'bool' as const, dims: [], data: new Uint8Array([0]) } };
    const a = await run(m, feeds);
    const b = await run(r, feeds);
    expect(toNumbers(b.result!)).toEqual(toNumbers(a.y!));
    expect(toNumbers(b.result!)).toEqual([-6, -8]);
  });

  it('renames initializers and inputs, swaps simultaneously, and refuses collisions', async () => {
    const m = diamond();
    const r = cloneModel(m);
    renameValues(r.graph, { x: 'input', w: 'weight', a: 'b', b: 'a' });
    expect(r.graph.inputs[0]!.name).toBe('input');
    expect(r.graph.initializers.has('weight')).toBe(true);
    expect(r.graph.nodes.find((n) => n.name === 'A')!.outputs).toEqual(['b']);
    const out = await run(r, { input: f32([3], [1, 2, 3]), unused_in: f32([1], [0]) });
    const ref = await run(m, { x: f32([3], [1, 2, 3]), unused_in: f32([1], [0]) });
    expect(toNumbers(out.y!)).toEqual(toNumbers(ref.y!));
    expect(() => renameValue(cloneModel(m).graph, 'a', 'b')).toThrow(/'b' already names a value/);
    expect(() => renameValues(cloneModel(m).graph, { a: 'z', b: 'z' })).toThrow(/both 'a' and 'b' would be renamed to 'z'/);
  });
});

describe('copies and maps', () => {
  it('clones deeply, sharing tensors', () => {
    const m = ifReadingOuter('sorted');
    m.graph.initializers.set('k', f32([1], [1]));
    const c = cloneGraph(m.graph);
    c.nodes[0]!.inputs[0] = 'changed';
    const thenC = c.nodes[1]!.attributes.then_branch!;
    if (thenC.type === 'graph') thenC.value.nodes[0]!.outputs[0] = 'changed_too';
    expect(m.graph.nodes[0]!.inputs[0]).toBe('x');
    const thenM = m.graph.nodes[1]!.attributes.then_branch!;
    expect(thenM.type === 'graph' && thenM.value.nodes[0]!.outputs[0]).toBe('t_out');
    expect(c.initializers.get('k')).toBe(m.graph.initializers.get('k'));
    expect(cloneGraph(m.graph, { tensors: 'copy' }).initializers.get('k')).not.toBe(m.graph.initializers.get('k'));
  });

  it('maps producers and consumers, counting subgraph reads', () => {
    const m = ifReadingOuter('sorted');
    const p = producers(m.graph);
    expect(p.get('h')!.name).toBe('H');
    expect(p.get('y')!.name).toBe('If');
    const c = consumers(m.graph);
    expect(c.get('h')!.map((n) => n.name)).toEqual(['If']);
    expect(c.get('x')!.map((n) => n.name)).toEqual(['H']);
    expect(c.get('cond')!.map((n) => n.name)).toEqual(['If']);
  });
});

describe('topologicalSort output check', () => {
  it('names a graph output nothing produces', () => {
    const m = diamond();
    m.graph.outputs.push({ name: 'ghost', dtype: 'float32', shape: null });
    expect(() => topologicalSort(m.graph)).toThrow(/graph output 'ghost' is not produced/);
  });
});
