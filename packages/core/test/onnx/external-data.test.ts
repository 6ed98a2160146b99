import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, emptyGraph, emptyModel, f32, i64, probeShapes, readModel, specialize, tensor, writeModel, type Model } from '../../src/index.js';
import { expectSameOutputs, plain, randoms } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'crispr-ext-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Two large weights (64 KiB each), small constants, and an If branch holding a large initializer. */
function weighty(): Model {
  const m = emptyModel(17, 'weighty');
  const gb = new GraphBuilder(m.graph);
  const x = gb.input('x', 'float32', ['batch', 128]);
  gb.initializer('w1', f32([128, 128], randoms(128 * 128, 1)));
  gb.initializer('w2', f32([128, 128], randoms(128 * 128, 2)));
  gb.initializer('flag', tensor('bool', [], [1]));
  const h = gb.op('Relu', [gb.op('MatMul', [x, 'w1'])]);
  const thenG = emptyGraph('then');
  thenG.initializers.set('w3', f32([128, 128], randoms(128 * 128, 3)));
  new GraphBuilder(thenG, 'then/').op('MatMul', [h, 'w3'], {}, { output: 'then_out' });
  thenG.outputs.push({ name: 'then_out', dtype: 'float32', shape: null });
  const elseG = emptyGraph('else');
  new GraphBuilder(elseG, 'else/').op('Neg', [h], {}, { output: 'else_out' });
  elseG.outputs.push({ name: 'else_out', dtype: 'float32', shape: null });
  const b = gb.node('If', ['flag'], { then_branch: thenG, else_branch: elseG }, { outputs: ['branch'] })[0]!;
  const target = gb.op('Concat', [gb.op('Slice', [gb.op('Shape', [x]), gb.ints([0]), gb.ints([1])]), gb.ints([2, 64])], { axis: 0 });
  gb.op('Reshape', [gb.op('MatMul', [b, 'w2']), target], {}, { output: 'y' });
  gb.output('y', 'float32', ['batch', 2, 64]);
  m.graph.initializers.set('unused_small', i64([2], [1, 2]));
  return m;
}

describe('external data', () => {
  it('round-trips initializers above the threshold, subgraphs included', async () => {
    const m = weighty();
    const path = join(dir, 'weighty.onnx');
    writeModel(m, path, { externalData: true, externalThreshold: 4096 });
    const dataFile = join(dir, 'weighty.onnx.data');
    expect(existsSync(dataFile)).toBe(true);
    // Three 64 KiB tensors live in the data file; the model file holds only the small ones.
    expect(statSync(dataFile).size).toBeGreaterThanOrEqual(3 * 128 * 128 * 4);
    expect(statSync(path).size).toBeLessThan(128 * 128 * 4);
    const back = readModel(path);
    for (const k of ['w1', 'w2', 'flag', 'unused_small']) expect(plain(back.graph.initializers.get(k)!), k).toEqual(plain(m.graph.initializers.get(k)!));
    const thenBack = back.graph.nodes.find((n) => n.opType === 'If')!.attributes.then_branch!;
    const thenOrig = m.graph.nodes.find((n) => n.opType === 'If')!.attributes.then_branch!;
    if (thenBack.type !== 'graph' || thenOrig.type !== 'graph') throw new Error('If lost its branch');
    expect(plain(thenBack.value.initializers.get('w3')!)).toEqual(plain(thenOrig.value.initializers.get('w3')!));
    await expectSameOutputs(m, back, { x: f32([2, 128], randoms(256, 5)) }, ['y']);
  });

  it('writes a specialised model with external data that runs like the original', async () => {
    const m = weighty();
    const { model } = await specialize(m, { x: [3, 128] }, probeShapes);
    expect(model.graph.nodes.some((n) => n.opType === 'If' || n.opType === 'Shape')).toBe(false);
    const path = join(dir, 'special', 'model.onnx');
    writeModel(model, path, { externalData: true, externalThreshold: 1024, externalDataName: 'weights.bin' });
    expect(statSync(join(dir, 'special', 'weights.bin')).size).toBeGreaterThanOrEqual(3 * 128 * 128 * 4);
    const back = readModel(path);
    expect(back.graph.inputs[0]!.shape).toEqual([3, 128]);
    await expectSameOutputs(m, back, { x: f32([3, 128], randoms(384, 6)) }, ['y']);
  });

  it("keeps small models inline in 'auto' mode", () => {
    const path = join(dir, 'inline.onnx');
    writeModel(weighty(), path);
    expect(existsSync(`${path}.data`)).toBe(false);
    expect(statSync(path).size).toBeGreaterThan(3 * 128 * 128 * 4);
  });
});
