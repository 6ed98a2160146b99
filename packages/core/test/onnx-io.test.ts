import { describe, expect, it } from 'vitest';
import { mkdtempSync, existsSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, emptyModel, f32, i64, readModel, writeModel, decodeModel, encodeModel, runModel, tensor, toNumbers } from '../src/index.js';

function smallModel() {
  const m = emptyModel(17, 'mlp');
  const b = new GraphBuilder(m.graph);
  const x = b.input('x', 'float32', ['batch', 3]);
  const w = b.initializer('w', f32([3, 2], [1, 2, 3, 4, 5, 6]));
  const bias = b.initializer('bias', f32([2], [0.5, -0.5]));
  const h = b.op('MatMul', [x, w]);
  const y = b.op('Add', [h, bias], {}, { output: 'y' });
  const ids = b.initializer('ids', i64([2], [1, 0]));
  b.op('Gather', [y, ids], { axis: 1 }, { output: 'z' });
  b.output(y, 'float32', ['batch', 2]);
  b.output('z', 'float32', ['batch', 2]);
  return m;
}

describe('ONNX IO', () => {
  it('round-trips a model through bytes and runs it in ORT', async () => {
    const m = smallModel();
    const back = decodeModel(encodeModel(m));
    expect(back.graph.nodes.map((n) => n.opType)).toEqual(['MatMul', 'Add', 'Gather']);
    expect(back.graph.nodes[2]!.attributes.axis).toEqual({ type: 'int', value: 1 });
    expect(toNumbers(back.graph.initializers.get('w')!)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(back.graph.initializers.get('ids')!.data).toBeInstanceOf(BigInt64Array);
    expect(back.graph.inputs[0]!.shape).toEqual(['batch', 3]);
    const out = await runModel(back, { x: f32([1, 3], [1, 1, 1]) });
    expect(toNumbers(out.y!)).toEqual([9.5, 11.5]);
    expect(toNumbers(out.z!)).toEqual([11.5, 9.5]);
  });

  it('writes and reads external data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'crispr-io-'));
    const m = smallModel();
    const big = tensor(
      'float32',
      [64, 64],
      Array.from({ length: 4096 }, (_, i) => i / 7),
    );
    m.graph.initializers.set('big', big);
    writeModel(m, join(dir, 'model.onnx'), { externalData: true, externalThreshold: 16 });
    expect(existsSync(join(dir, 'model.onnx.data'))).toBe(true);
    expect(statSync(join(dir, 'model.onnx.data')).size).toBeGreaterThanOrEqual(4096 * 4);
    const back = readModel(join(dir, 'model.onnx'));
    expect(toNumbers(back.graph.initializers.get('big')!)).toEqual(toNumbers(big));
    // ORT reads the external file itself when given the path.
    const out = await runModel(encodeModel(back), { x: f32([1, 3], [1, 0, 0]) });
    expect(toNumbers(out.y!)).toEqual([1.5, 1.5]);
  });

  it('names the missing external data file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'crispr-io-'));
    const m = smallModel();
    writeModel(m, join(dir, 'model.onnx'), { externalData: true, externalThreshold: 1, externalDataName: 'weights.bin' });
    rmSync(join(dir, 'weights.bin'));
    expect(() => readModel(join(dir, 'model.onnx'))).toThrow(/external data file .*weights\.bin/);
  });

  it('reports a file that is not ONNX', () => {
    expect(() => decodeModel(new Uint8Array([1, 2, 3, 255, 255]), { source: 'junk.onnx' })).toThrow(/junk\.onnx/);
  });
});
