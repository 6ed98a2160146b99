import { describe, expect, it } from 'vitest';
import { GraphBuilder, emptyModel, f32, reducePowers, tensor, type Model } from '../../src/index.js';
import { plain, randoms, run } from './helpers.js';

/** y_i = Pow(x, e_i) for each exponent, as initializers or Constant nodes. */
function powers(exponents: number[], asConstantNode = false): Model {
  const m = emptyModel(17, 'powers');
  const b = new GraphBuilder(m.graph);
  b.input('x', 'float32', [2, 5]);
  exponents.forEach((e, i) => {
    const name = `e${i}`;
    if (asConstantNode) b.op('Constant', [], { value: tensor('float32', [], [e]) }, { output: name });
    else b.initializer(name, f32([], [e]));
    b.op('Pow', ['x', name], {}, { name: `pow${i}`, output: `y${i}` });
    m.graph.outputs.push({ name: `y${i}`, dtype: 'float32', shape: [2, 5] });
  });
  return m;
}

describe('reducePowers', () => {
  const x = f32(
    [2, 5],
    randoms(10, 7).map((v) => 0.1 + Math.abs(v) * 3),
  );

  it('replaces Pow with exponents 1, 2, 3, 0.5 and -1 and keeps the values within an ulp or two', async () => {
    for (const constantNodes of [false, true]) {
      const exps = [1, 2, 3, 0.5, -1, 2.5];
      const before = powers(exps, constantNodes);
      const after = powers(exps, constantNodes);
      expect(reducePowers(after.graph)).toBe(5);
      expect(after.graph.nodes.filter((n) => n.opType === 'Pow').map((n) => n.name)).toEqual(['pow5']);
      const ra = await run(before, { x });
      const rb = await run(after, { x });
      exps.forEach((_, i) => {
        const a = plain(ra[`y${i}`]!).data as number[];
        const c = plain(rb[`y${i}`]!).data as number[];
        a.forEach((v, k) => expect(Math.abs(c[k]! - v)).toBeLessThanOrEqual(Math.abs(v) * 3e-7));
      });
      // x*x is exactly what Pow(x, 2) rounds to.
      expect(plain(rb.y1!)).toEqual(plain(ra.y1!));
    }
  });

  it('leaves a Pow whose exponent is an input or not uniform', () => {
    const m = emptyModel(17, 'p');
    const b = new GraphBuilder(m.graph);
    b.input('x', 'float32', [3]);
    b.input('e', 'float32', []);
    b.initializer('mixed', f32([3], [2, 2, 3]));
    b.op('Pow', ['x', 'e'], {}, { output: 'y' });
    b.op('Pow', ['x', 'mixed'], {}, { output: 'z' });
    expect(reducePowers(m.graph)).toBe(0);
  });
});
