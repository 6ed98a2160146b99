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
    it(`repeated constant indices (opset ${opset})`, () =>
      expectGrad({ opType: 'Gather', inputs: [x([5, 2]), cids([4], [3, -2, 0, 3])], opset }));
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
