/** Where, Max, Min, Clip, Abs, Trilu gradients against central differences, and the tie convention. */
import { describe, expect, it } from 'vitest';
import { f64, i64, tensor } from '../../src/index.js';
import { randn } from '../helpers/gradcheck.js';
import { evalRule, expectGrad, values } from './shape-grad-helpers.js';

const x = (dims: number[], seed = 1) => ({ value: randn(dims, seed) });
const bool = (dims: number[], v: number[]) => tensor('bool', dims, v);

describe('Where', () => {
  it('run-time condition with broadcast x and y', () =>
    expectGrad({ opType: 'Where', inputs: [{ value: bool([2, 1, 3], [1, 0, 1, 0, 0, 1]), grad: false }, x([4, 1], 2), x([3], 3)] }));
  it('constant condition, scalar y', () =>
    expectGrad({ opType: 'Where', inputs: [{ value: bool([2, 2], [1, 0, 0, 1]), constant: true }, x([2, 2], 2), { value: f64([], [-1.5]) }] }));
});

describe('Max and Min', () => {
  // Random normals: no ties, so the function is differentiable at every checked point.
  it('Max of three broadcast inputs', () => expectGrad({ opType: 'Max', inputs: [x([2, 3]), x([3], 2), x([2, 1], 3)] }));
  it('Min of two inputs (opset 11)', () => expectGrad({ opType: 'Min', inputs: [x([3, 2]), x([3, 2], 4)], opset: 11 }));
  it('Max of one input', () => expectGrad({ opType: 'Max', inputs: [x([4])] }));
  it('ties split the gradient evenly (hand-computed)', async () => {
    const g = await evalRule('Max', [{ value: f64([3], [1, 5, 2]) }, { value: f64([3], [1, 3, 2]) }, { value: f64([3], [0, 3, 2]) }], [f64([3], [6, 6, 6])]);
    expect(values(g[0])).toEqual([3, 6, 2]);
    expect(values(g[1])).toEqual([3, 0, 2]);
    expect(values(g[2])).toEqual([0, 0, 2]);
  });
});

describe('Clip', () => {
  it('min and max as differentiable inputs', () => expectGrad({ opType: 'Clip', inputs: [x([4, 5]), { value: f64([], [-0.5]) }, { value: f64([], [0.7]) }] }));
  it('max only, constant', () => expectGrad({ opType: 'Clip', inputs: [x([4, 5]), null, { value: f64([], [0.2]), constant: true }] }));
  it('min above max gives everything to max', () => expectGrad({ opType: 'Clip', inputs: [x([3, 3]), { value: f64([], [0.5]) }, { value: f64([], [-0.5]) }] }));
  // ORT's Clip-6 kernel is float32 only; no element lies within eps of a bound.
  it('attribute form (opset 10, float32)', () =>
    expectGrad({ opType: 'Clip', inputs: [{ value: randn([4, 5], 1, 'float32') }], attrs: { min: -0.3, max: 0.4 }, opset: 10, eps: 1e-2 }, 1e-3));
});

describe('Abs and Trilu', () => {
  it('Abs', () => expectGrad({ opType: 'Abs', inputs: [x([3, 4])] }));
  it('Trilu upper with k and lower default', async () => {
    await expectGrad({ opType: 'Trilu', inputs: [x([2, 3, 4]), { value: i64([], [1]), constant: true }], attrs: { upper: 1 } });
    await expectGrad({ opType: 'Trilu', inputs: [x([4, 3])], attrs: { upper: 0 } });
    await expectGrad({ opType: 'Trilu', inputs: [x([4, 4]), { value: i64([], [-1]), grad: false }], attrs: { upper: 0 } });
  });
});

describe('Dropout and CumSum', () => {
  it('inference-mode Dropout passes the gradient through', async () => {
    await expectGrad({ opType: 'Dropout', inputs: [x([3, 4])], opset: 13 });
    await expectGrad({
      opType: 'Dropout',
      inputs: [x([3, 4]), { value: f64([], [0.3]), constant: true }, { value: bool([], [0]), constant: true }],
      opset: 13,
    });
    await expectGrad({ opType: 'Dropout', inputs: [x([3, 4])], attrs: { ratio: 0.2 }, opset: 11 });
  });
  it('training-mode Dropout is an error naming the node', async () => {
    await expect(
      evalRule(
        'Dropout',
        [{ value: f64([2], [1, 2]) }, { value: f64([], [0.3]), constant: true }, { value: bool([], [1]), constant: true }],
        [f64([2], [1, 1])],
        {},
        13,
      ),
    ).rejects.toThrow(/Dropout.*training-mode/);
  });
  for (const [exclusive, reverse] of [
    [0, 0],
    [1, 0],
    [0, 1],
    [1, 1],
  ]) {
    it(`CumSum exclusive ${exclusive} reverse ${reverse}`, () =>
      expectGrad({ opType: 'CumSum', inputs: [x([3, 4]), { value: i64([], [-1]), constant: true }], attrs: { exclusive, reverse } }));
  }
  it('CumSum with a run-time int32 axis', () => expectGrad({ opType: 'CumSum', inputs: [x([3, 4]), { value: tensor('int32', [], [0]), grad: false }] }));
});
