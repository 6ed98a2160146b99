/** Reduction gradients against central differences: axes as attribute or input, keepdims both ways, all-axes, noop. */
import { describe, expect, it } from 'vitest';
import { f64, i64, type AttrInput } from '../../src/index.js';
import { randn, type RuleInput } from '../helpers/gradcheck.js';
import { evalRule, expectGrad, values } from './shape-grad-helpers.js';

const OPS = ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceL2', 'ReduceSumSquare', 'ReduceL1', 'ReduceLogSumExp'];

/** Inputs and attributes for a reduction in the form the opset wants (axes attribute or input). */
function spec(op: string, opset: number, axes: number[] | undefined, keepdims: number, extra: { runtime?: boolean; noop?: number } = {}) {
  const axesAsInput = op === 'ReduceSum' ? opset >= 13 : opset >= 18;
  const inputs: (RuleInput | null)[] = [{ value: randn([3, 4, 2], 7) }];
  const attrs: Record<string, AttrInput> = { keepdims };
  if (axesAsInput) {
    if (axes) inputs.push(extra.runtime ? { value: i64([axes.length], axes), grad: false } : { value: i64([axes.length], axes), constant: true });
    if (extra.noop !== undefined) attrs.noop_with_empty_axes = extra.noop;
  } else if (axes) attrs.axes = axes;
  return { opType: op, inputs, attrs, opset };
}

describe.each(OPS)('%s', (op) => {
  for (const opset of [11, 13, 18]) {
    it(`axes [-1], keepdims 1 (opset ${opset})`, () => expectGrad(spec(op, opset, [-1], 1)));
    it(`axes [0, 2], keepdims 0 (opset ${opset})`, () => expectGrad(spec(op, opset, [0, 2], 0)));
    it(`all axes, keepdims 0 (opset ${opset})`, () => expectGrad(spec(op, opset, undefined, 0)));
  }
  it('run-time axes, keepdims 0 and 1 (opset 18)', async () => {
    await expectGrad(spec(op, 18, [-2], 0, { runtime: true }));
    await expectGrad(spec(op, 18, [0, 1], 1, { runtime: true }));
  });
  it('empty axes with noop_with_empty_axes reduces nothing; without it, everything (opset 18)', async () => {
    await expectGrad(spec(op, 18, [], 1, { noop: 1 }));
    await expectGrad(spec(op, 18, [], 0, { noop: 0 }));
  });
});

describe('reduction edge cases', () => {
  it('run-time axes with keepdims 0 and ambiguous dims is an error naming the node', async () => {
    const s = spec('ReduceSum', 18, [0], 0, { runtime: true });
    s.inputs[0] = { value: randn([2, 2], 1) };
    await expect(expectGrad(s)).rejects.toThrow(/ReduceSum.*fit several reductions/);
  });
  it('ReduceMax ties split the gradient evenly (hand-computed)', async () => {
    const [g] = await evalRule('ReduceMax', [{ value: f64([2, 3], [4, 1, 4, 2, 7, 7]) }], [f64([2], [6, 10])], { axes: [1], keepdims: 0 }, 13);
    expect(values(g)).toEqual([3, 0, 3, 0, 5, 5]);
  });
  it('ReduceMin over a keepdims axis of size 1 passes the gradient through', () =>
    expectGrad({ opType: 'ReduceMin', inputs: [{ value: randn([3, 1], 2) }], attrs: { axes: [1], keepdims: 1 }, opset: 13 }));
  it('ReduceL2 at an all-zero row gives a zero gradient', async () => {
    const [g] = await evalRule('ReduceL2', [{ value: f64([2, 2], [0, 0, 3, 4]) }], [f64([2], [1, 1])], { axes: [1], keepdims: 0 }, 13);
    values(g).forEach((v, i) => expect(v).toBeCloseTo([0, 0, 0.6, 0.8][i]!, 12));
  });
});
