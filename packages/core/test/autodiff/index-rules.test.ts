/** Gather, GatherElements, GatherND gradients against central differences, incl. repeated and run-time indices. */
import { describe, expect, it } from 'vitest';
import { f64, i64, tensor } from '../../src/index.js';
import { randn } from '../helpers/gradcheck.js';
import { evalRule, expectGrad, values } from './shape-grad-helpers.js';

const x = (dims: number[], seed = 1) => ({ value: randn(dims, seed) });
const ids = (dims: number[], v: number[]) => ({ value: i64(dims, v), grad: false });
const cids = (dims: number[], v: number[]) => ({ value: i64(dims, v), constant: true });

describe('Gather', () => {
  // Opset 17 accumulates with ScatterND add; opset 13 with the one-hot product or a plain ScatterND.
  for (const opset of [17, 13]) {
    it(`embedding lookup with repeated run-time token ids (opset ${opset})`, () =>
      expectGrad({ opType: 'Gather', inputs: [x([6, 3]), ids([2, 4], [1, 5, 1, 0, 5, 5, 2, 1])], opset }));
    it(`repeated constant indices (opset ${opset})`, () => expectGrad({ opType: 'Gather', inputs: [x([5, 2]), cids([4], [3, -2, 0, 3])], opset }));
    it(`distinct constant indices on a negative axis (opset ${opset})`, () =>
      expectGrad({ opType: 'Gather', inputs: [x([2, 5, 3]), cids([2, 2], [4, 0, -2, 2])], attrs: { axis: -2 }, opset }));
    it(`a negative index aliasing a positive one (opset ${opset})`, () =>
      expectGrad({ opType: 'Gather', inputs: [x([2, 5, 3]), cids([2, 2], [4, 0, -1, 2])], attrs: { axis: 1 }, opset }));
    it(`run-time negative int32 indices on axis 2 (opset ${opset})`, () =>
      expectGrad({ opType: 'Gather', inputs: [x([2, 3, 4]), { value: tensor('int32', [3], [-1, 0, -1]), grad: false }], attrs: { axis: 2 }, opset }));
  }
  it('scalar index (last-token pick)', () =>
    expectGrad({ opType: 'Gather', inputs: [x([2, 4, 3]), { value: i64([], [-1]), grad: false }], attrs: { axis: 1 } }));
  it('repeated indices accumulate (hand-computed)', async () => {
    const [g] = await evalRule('Gather', [{ value: f64([3, 1], [0, 0, 0]) }, { value: i64([3], [2, 2, 0]) }], [f64([3, 1], [1, 10, 100])]);
    expect(values(g)).toEqual([100, 0, 11]);
  });
});

describe('GatherElements', () => {
  for (const opset of [17, 13]) {
    it(`repeated run-time indices on axis 1, indices smaller than data (opset ${opset})`, () =>
      expectGrad({ opType: 'GatherElements', inputs: [x([3, 4]), ids([2, 3], [0, 3, 3, -1, 1, 1])], attrs: { axis: 1 }, opset }));
    it(`constant indices on a negative axis (opset ${opset})`, () =>
      expectGrad({ opType: 'GatherElements', inputs: [x([3, 2, 2]), cids([2, 2, 2], [2, 0, 1, 1, -1, 0, 2, 2])], attrs: { axis: -3 }, opset }));
  }
});

describe('GatherND', () => {
  for (const opset of [17, 13]) {
    it(`index pairs with repeats, run-time (opset ${opset})`, () =>
      expectGrad({ opType: 'GatherND', inputs: [x([3, 4, 2]), ids([3, 2], [0, 1, 2, -1, 0, 1])], opset }));
    it(`batch_dims 1, constant (opset ${opset})`, () =>
      expectGrad({ opType: 'GatherND', inputs: [x([2, 3, 4]), cids([2, 2, 1], [2, 0, 1, 1])], attrs: { batch_dims: 1 }, opset }));
  }
  it('batch_dims 1 with run-time full-rank tuples', () =>
    expectGrad({ opType: 'GatherND', inputs: [x([2, 3, 4]), ids([2, 3, 2], [0, 1, 2, 3, 0, 1, 1, 1, 1, 1, 2, -1])], attrs: { batch_dims: 1 } }));
});

describe('ScatterND and ScatterElements', () => {
  it('ScatterND without reduction: data gradient zeroed at written rows, updates gathered', () =>
    expectGrad({ opType: 'ScatterND', inputs: [x([4, 3]), cids([2, 1], [3, -4]), x([2, 3], 2)] }));
  it('ScatterND with run-time element indices and reduction add', () =>
    expectGrad({ opType: 'ScatterND', inputs: [x([3, 4]), ids([3, 2], [0, 1, 2, 3, 0, 1]), x([3], 2)], attrs: { reduction: 'add' } }));
  it('ScatterElements on axis 1, reduction none and add', async () => {
    await expectGrad({ opType: 'ScatterElements', inputs: [x([3, 4]), ids([2, 2], [1, 3, 0, 2]), x([2, 2], 2)], attrs: { axis: 1 } });
    await expectGrad({ opType: 'ScatterElements', inputs: [x([3, 4]), ids([2, 2], [1, 1, 0, 2]), x([2, 2], 2)], attrs: { axis: -1, reduction: 'add' } });
  });
  // Before opset 11 the updates' gradient would need GatherElements, which does not exist yet: data only.
  it('Scatter (the opset-9/10 name of ScatterElements): the data gradient', () =>
    expectGrad({
      opType: 'Scatter',
      opset: 10,
      inputs: [x([3, 4]), ids([2, 2], [1, 3, 0, 2]), { value: randn([2, 2], 2), constant: true }],
      attrs: { axis: 1 },
    }));
});

describe('TopK', () => {
  it('values gradient lands on the selected positions (hand-computed)', async () => {
    const xs = [0.3, -1.2, 2.5, 0.9, 1.7, -0.4, 0.1, 3.3];
    const dv = [10, 20, 30, 40];
    const [g] = await evalRule('TopK', [{ value: f64([2, 4], xs) }, { value: i64([1], [2]), constant: true }], [f64([2, 2], dv), undefined], { axis: 1 });
    // Row 0: largest 2.5 (col 2) then 0.9 (col 3); row 1: 3.3 (col 3) then 1.7 (col 0).
    expect(values(g)).toEqual([0, 0, 10, 20, 40, 0, 0, 30]);
  });
});
