/** Layout rules (Reshape ... Tile) and slab rules (Concat, Split, Slice, Pad) against central differences. */
import { describe, expect, it } from 'vitest';
import { f64, i64, tensor } from '../../src/index.js';
import { randn } from '../helpers/gradcheck.js';
import { evalRule, expectGrad, values } from './shape-grad-helpers.js';

const x = (dims: number[], seed = 1) => ({ value: randn(dims, seed) });
const c = (values: number[]) => ({ value: i64([values.length], values), constant: true });
/** An integer graph input (not an initializer): the rule must work with its run-time value. */
const rt = (values: number[]) => ({ value: i64([values.length], values), grad: false });

describe('layout rules', () => {
  it('Identity', () => expectGrad({ opType: 'Identity', inputs: [x([2, 3])] }));
  it('Reshape with -1 and 0', () => expectGrad({ opType: 'Reshape', inputs: [x([2, 3, 4]), c([0, -1, 2])] }));
  it('Reshape with a run-time shape', () => expectGrad({ opType: 'Reshape', inputs: [x([2, 6]), rt([3, 4])] }));
  it('Flatten at a negative axis', () => expectGrad({ opType: 'Flatten', inputs: [x([2, 3, 4])], attrs: { axis: -1 } }));
  it('Squeeze with axes input and omitted axes', async () => {
    await expectGrad({ opType: 'Squeeze', inputs: [x([2, 1, 3, 1]), c([-1])] });
    await expectGrad({ opType: 'Squeeze', inputs: [x([2, 1, 3, 1])] });
  });
  it('Squeeze/Unsqueeze with axes attribute (opset 11)', async () => {
    await expectGrad({ opType: 'Squeeze', inputs: [x([2, 1, 3])], attrs: { axes: [1] }, opset: 11 });
    await expectGrad({ opType: 'Unsqueeze', inputs: [x([2, 3])], attrs: { axes: [0, -1] }, opset: 11 });
  });
  it('Unsqueeze with axes input', () => expectGrad({ opType: 'Unsqueeze', inputs: [x([2, 3]), c([1, -1])] }));
  it('Transpose with perm and default reversal', async () => {
    await expectGrad({ opType: 'Transpose', inputs: [x([2, 3, 4])], attrs: { perm: [1, 2, 0] } });
    await expectGrad({ opType: 'Transpose', inputs: [x([2, 3, 4])] });
  });
  it('Cast float64 -> float32 -> gradient cast back', () =>
    // The float32 round trip limits the accuracy of the finite differences.
    expectGrad({ opType: 'Cast', inputs: [x([3, 4])], attrs: { to: 1 }, eps: 1e-3 }, 1e-4));
  it('CastLike float32 -> float64', () =>
    expectGrad(
      { opType: 'CastLike', inputs: [{ value: randn([3, 2], 2, 'float32') }, { value: tensor('float64', [1], [0]), constant: true }], eps: 1e-2 },
      1e-3,
    ));
  it('Cast to an integer type gives no gradient', async () => {
    const g = await evalRule('Cast', [{ value: f64([3], [1.5, 2, 3]) }], [i64([3], [1, 1, 1])], { to: 7 });
    expect(g).toEqual([undefined]);
  });
  it('Expand with broadcast and a new leading axis', async () => {
    await expectGrad({ opType: 'Expand', inputs: [x([3, 1]), c([2, 3, 4])] });
    await expectGrad({ opType: 'Expand', inputs: [x([1, 4]), rt([3, 1])] });
  });
  it('Tile', async () => {
    await expectGrad({ opType: 'Tile', inputs: [x([2, 3]), c([2, 3])] });
    await expectGrad({ opType: 'Tile', inputs: [x([2, 1, 3]), rt([1, 4, 1])] });
  });
});

describe('slab rules', () => {
  it('Concat with a negative axis and a constant operand', () =>
    expectGrad({ opType: 'Concat', inputs: [x([2, 3]), { value: randn([2, 2], 5), constant: true }, x([2, 1], 3)], attrs: { axis: -1 } }));
  it('Concat of three inputs on axis 0', () => expectGrad({ opType: 'Concat', inputs: [x([1, 3]), x([2, 3], 2), x([3, 3], 3)], attrs: { axis: 0 } }));
  it('Split with a split input, all outputs used', () => expectGrad({ opType: 'Split', inputs: [x([2, 7]), c([2, 4, 1])], attrs: { axis: -1 }, outputs: 3 }));
  it('Split with the split attribute (opset 11)', () =>
    expectGrad({ opType: 'Split', inputs: [x([5, 2])], attrs: { axis: 0, split: [3, 2] }, outputs: 2, opset: 11 }));
  it('Split with num_outputs (opset 18)', () =>
    expectGrad({ opType: 'Split', inputs: [x([3, 6])], attrs: { axis: 1, num_outputs: 3 }, outputs: 3, opset: 18 }));
  it('Split outputs without gradient contribute zeros', async () => {
    const g = await evalRule(
      'Split',
      [{ value: f64([2, 5], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) }],
      [undefined, f64([2, 2], [1, 2, 3, 4]), undefined],
      { axis: 1, split: [1, 2, 2] },
      11,
    );
    expect(values(g[0])).toEqual([0, 1, 2, 0, 0, 0, 3, 4, 0, 0]);
  });
  it('Slice with negative starts and a clamped INT64_MAX end', () =>
    expectGrad({ opType: 'Slice', inputs: [x([4, 5]), c([1, -3]), { value: i64([2], [BigInt('9223372036854775807'), 100n]), constant: true }, c([0, 1])] }));
  it('Slice with step 2 and a negative step', () => expectGrad({ opType: 'Slice', inputs: [x([5, 6]), c([-1, 0]), c([-10, 6]), c([0, -1]), c([-2, 2])] }));
  it('Slice reversing an axis (end INT64_MIN, step -1)', () =>
    expectGrad({ opType: 'Slice', inputs: [x([3, 4]), c([-1]), { value: i64([1], [BigInt('-9223372036854775808')]), constant: true }, c([1]), c([-1])] }));
  it('Slice with omitted axes and steps', () => expectGrad({ opType: 'Slice', inputs: [x([4, 3]), c([1]), c([3])] }));
  it('Slice with starts and ends attributes (opset 9)', () =>
    expectGrad({ opType: 'Slice', inputs: [x([3, 4])], attrs: { starts: [1], ends: [-1], axes: [1] }, opset: 9 }));
  it('Slice with run-time starts, ends and steps', async () => {
    await expectGrad({ opType: 'Slice', inputs: [x([4, 6]), rt([1, 5]), rt([4, 0]), c([0, 1]), rt([2, -2])] });
    await expectGrad({ opType: 'Slice', inputs: [x([4, 6]), rt([1, 5]), rt([4, 0]), c([0, 1]), rt([2, -2])], opset: 13 });
  });
  it('Pad constant mode with positive and negative pads and the fill value', () =>
    expectGrad({ opType: 'Pad', inputs: [x([3, 4]), c([1, -1, 2, 2]), { value: tensor('float64', [], [0.7]) }], attrs: { mode: 'constant' } }));
  it('Pad with axes input (opset 18)', () => expectGrad({ opType: 'Pad', inputs: [x([2, 3, 2]), c([1, 2]), null, c([-2])], opset: 18 }));
  it('Pad attribute form (opset 10)', () => expectGrad({ opType: 'Pad', inputs: [x([2, 3])], attrs: { pads: [0, 1, 1, 0], value: 0.5 }, opset: 10 }));
  it('Pad reflect and edge modes', async () => {
    await expectGrad({ opType: 'Pad', inputs: [x([3, 4]), c([1, 2, 2, 1])], attrs: { mode: 'reflect' } });
    await expectGrad({ opType: 'Pad', inputs: [x([3, 4]), c([2, 0, 0, 3])], attrs: { mode: 'edge' } });
    await expectGrad({ opType: 'Pad', inputs: [x([3, 4]), c([2, 0, 0, 3])], attrs: { mode: 'edge' }, opset: 13 });
  });
  it('Pad with run-time pads', async () => {
    await expectGrad({ opType: 'Pad', inputs: [x([3, 4]), rt([1, 0, -1, 2]), { value: tensor('float64', [], [0.3]) }] });
    await expectGrad({ opType: 'Pad', inputs: [x([3, 4]), rt([1, 0, -1, 2])], opset: 13 });
  });
});
