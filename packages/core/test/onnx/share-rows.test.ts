import { describe, expect, it } from 'vitest';
import { GraphBuilder, checkShareRows, emptyModel, f32, i64, probeShapes, shareRows, type Model } from '../../src/index.js';
import { plain, randoms, run } from './helpers.js';

const OPTS = { shared: ['p'], index: 'rows' };

/**
 * y = Reshape(x + p W, shape) with x [rows, 3] per row and p [rows, 4] per prompt. `shapeFrom`
 * picks where Reshape's target comes from: a constant, a prompt-side Shape that does not hold the
 * batch (p's width), or one that does (p's rows).
 */
function model(shapeFrom: 'constant' | 'prompt-width' | 'prompt-rows'): Model {
  const m = emptyModel(17, 'share');
  const b = new GraphBuilder(m.graph);
  b.input('x', 'float32', ['r', 3]);
  b.input('p', 'float32', ['r', 4]);
  b.initializer('w', f32([4, 3], randoms(12, 3)));
  const k = b.op('MatMul', ['p', 'w'], {}, { output: 'k' });
  const sum = b.op('Add', ['x', k]);
  let shape: string;
  if (shapeFrom === 'constant') shape = b.ints([-1, 3]);
  else {
    const dim = b.op('Gather', [b.op('Shape', ['p']), b.ints([shapeFrom === 'prompt-rows' ? 0 : 1])], { axis: 0 });
    // prompt-width: [-1, 4 - 1]; prompt-rows: [rows, -1]
    shape =
      shapeFrom === 'prompt-width'
        ? b.op('Concat', [b.ints([-1]), b.op('Sub', [dim, b.ints([1])])], { axis: 0 })
        : b.op('Concat', [dim, b.ints([-1])], { axis: 0 });
  }
  b.op('Reshape', [sum, shape], {}, { output: 'y' });
  m.graph.outputs.push({ name: 'y', dtype: 'float32', shape: null });
  return m;
}

describe('shareRows', () => {
  const x = f32([3, 3], randoms(9, 1));
  const prompts = f32([2, 4], randoms(8, 2));
  const rows = [1, 0, 1];
  const perRow = f32(
    [3, 4],
    rows.flatMap((r) => Array.from(prompts.data as Float32Array).slice(r * 4, r * 4 + 4)),
  );

  it('computes prompt-side values once per prompt and gathers them where rows read them', async () => {
    for (const shapeFrom of ['constant', 'prompt-width'] as const) {
      const m = model(shapeFrom);
      const shared = shareRows(m, OPTS)!;
      expect(shared.promptNodes).toBe(1);
      expect(shared.gathered).toEqual(['k']);
      expect(shared.promptValues.has('k')).toBe(true);
      await checkShareRows(m, shared, OPTS, { x: [2, 3], p: [2, 4] }, probeShapes);
      const a = await run(m, { x, p: perRow });
      const b = await run(shared.model, { x, p: prompts, rows: i64([3], rows) });
      expect(plain(b.y!)).toEqual(plain(a.y!));
    }
  });

  it('keeps a product with a broadcast input (a site mask) on the prompt side', async () => {
    const m = emptyModel(17, 'masked');
    const b = new GraphBuilder(m.graph);
    b.input('x', 'float32', ['r', 3]);
    b.input('p', 'float32', ['r', 4]);
    b.input('mask', 'float32', [3]);
    b.initializer('w', f32([4, 3], randoms(12, 3)));
    const k = b.op('Mul', [b.op('MatMul', ['p', 'w']), 'mask'], {}, { output: 'masked' });
    b.op('Add', ['x', k], {}, { output: 'y' });
    m.graph.outputs.push({ name: 'y', dtype: 'float32', shape: null });
    const mask = f32([3], [1, 0, 0.5]);
    // Without the mask named, the Mul reads a row-side input: the gather goes before it.
    expect(shareRows(m, OPTS)!.gathered).not.toContain('masked');
    const opts = { ...OPTS, broadcast: ['mask'] };
    const shared = shareRows(m, opts)!;
    expect(shared.promptNodes).toBe(2);
    expect(shared.gathered).toEqual(['masked']);
    const a = await run(m, { x, p: perRow, mask });
    const got = await run(shared.model, { x, p: prompts, mask, rows: i64([3], rows) });
    expect(plain(got.y!)).toEqual(plain(a.y!));
  });

  it('refuses, by its probe, a shape value that carries the batch to the rows', async () => {
    const m = model('prompt-rows');
    const shared = shareRows(m, OPTS)!;
    await expect(checkShareRows(m, shared, OPTS, { x: [2, 3], p: [2, 4] }, probeShapes)).rejects.toThrow(/a shape value carries the batch/);
  });

  it('returns null when nothing depends on the shared inputs alone, and leaves its input model as it was', () => {
    const m = emptyModel(17, 'none');
    const b = new GraphBuilder(m.graph);
    b.input('x', 'float32', ['r', 3]);
    b.input('p', 'float32', ['r', 3]);
    b.op('Add', ['x', 'p'], {}, { output: 'y' });
    m.graph.outputs.push({ name: 'y', dtype: 'float32', shape: null });
    expect(shareRows(m, OPTS)).toBeNull();
    const before = JSON.stringify(model('constant').graph.nodes);
    const m2 = model('constant');
    shareRows(m2, OPTS);
    expect(JSON.stringify(m2.graph.nodes)).toBe(before);
  });
});
