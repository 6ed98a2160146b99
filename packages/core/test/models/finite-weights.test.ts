import { describe, expect, it } from 'vitest';
import { emptyModel } from '../../src/onnx/types.js';
import { checkFiniteWeights, multiIndex, nonFiniteWeights } from '../../src/models/finite-weights.js';

describe('non-finite weights', () => {
  it('finds NaN and infinities in float32, float16 and bfloat16 initializers, by name and first index', () => {
    const m = emptyModel();
    const f32 = new Float32Array(12);
    f32[7] = NaN;
    f32[9] = -Infinity;
    m.graph.initializers.set('w32', { dtype: 'float32', dims: [3, 4], data: f32 });
    m.graph.initializers.set('w16', { dtype: 'float16', dims: [4], data: new Uint16Array([0x3c00, 0x7c00, 0x0001, 0x7e00]) });
    m.graph.initializers.set('bf16', { dtype: 'bfloat16', dims: [2], data: new Uint16Array([0x3f80, 0xff80]) });
    m.graph.initializers.set('ok', { dtype: 'float32', dims: [2], data: new Float32Array([1, 3.4e38]) });
    m.graph.initializers.set('ids', { dtype: 'int64', dims: [1], data: new BigInt64Array([1n]) });
    const bad = nonFiniteWeights(m, 'onnx/model.onnx');
    expect(bad.map((b) => [b.initializer, b.count, b.first, b.value])).toEqual([
      ['w32', 2, 7, NaN],
      ['w16', 2, 1, Infinity],
      ['bf16', 1, 1, -Infinity],
    ]);
    expect(multiIndex(7, [3, 4])).toEqual([1, 3]);
    expect(() => checkFiniteWeights('/m', [{ file: 'onnx/model.onnx', model: m }])).toThrow(
      "/m: the model has non-finite weights, so every score would be NaN:\n  onnx/model.onnx: initializer 'w32' [3, 4] has 2 non-finite value(s), first NaN at [1, 3]",
    );
  });
});
