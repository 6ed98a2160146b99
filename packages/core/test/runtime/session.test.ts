import { describe, expect, it } from 'vitest';
import { createSession, emptyModel, GraphBuilder, SessionCache, f32, toNumbers, modelHash, probeShapes, weightFree, type Model } from '../../src/index.js';

function relu(scale: number): Model {
  const m = emptyModel(17, 'relu');
  const b = new GraphBuilder(m.graph);
  b.input('x', 'float32', ['n']);
  b.op('Mul', [b.op('Relu', ['x']), b.scalar(scale)], {}, { output: 'y' });
  b.output('y', 'float32', ['n']);
  return m;
}

describe('sessions', () => {
  it('runs IR tensors through ORT with thread options', async () => {
    const s = await createSession(relu(2), { intraOpThreads: 1, interOpThreads: 1 });
    const out = await s.run({ x: f32([3], [-1, 0.5, 2]) });
    expect(toNumbers(out.y!)).toEqual([0, 1, 4]);
    await expect(s.run({})).rejects.toThrow(/missing session inputs: x/);
    await s.release();
  });

  it('names the provider and how to enable it when its library is missing', async () => {
    // onnxruntime-node here is the CPU build (its CUDA download is disabled in pnpm-workspace.yaml).
    await expect(createSession(relu(1), { provider: 'cuda' })).rejects.toThrow(/execution provider 'cuda' is not available[\s\S]*allowBuilds/);
    await expect(createSession(relu(1), { provider: 'webgpu' })).rejects.toThrow(/execution provider 'webgpu' is not available/);
  });

  it('reports a model ORT cannot load', async () => {
    const m = relu(1);
    m.graph.nodes[0]!.opType = 'NoSuchOp';
    await expect(createSession(m)).rejects.toThrow(/onnxruntime could not load the model: .*NoSuchOp/);
  });

  it('caches one session per graph hash and shape bucket, evicting the least recently used', async () => {
    const cache = new SessionCache({}, 2);
    let builds = 0;
    const a = relu(2);
    const ha = modelHash(a);
    const build = () => {
      builds++;
      return a;
    };
    const s1 = await cache.get(ha, 'b1', build);
    const s2 = await cache.get(ha, 'b1', build);
    expect(s2).toBe(s1);
    expect(builds).toBe(1);
    const s3 = await cache.get(ha, 'b8', build);
    expect(s3).not.toBe(s1);
    expect(builds).toBe(2);
    await cache.get(ha, 'b1', build); // b1 is now the most recent
    await cache.get(ha, 'b16', build); // evicts b8
    expect(cache.size).toBe(2);
    expect(builds).toBe(3);
    await cache.get(ha, 'b1', build);
    expect(builds).toBe(3);
    await cache.get(ha, 'b8', build);
    expect(builds).toBe(4);
    expect(modelHash(relu(3))).not.toBe(ha);
    await cache.clear();
    expect(cache.size).toBe(0);
  });
});

describe('probeShapes', () => {
  it('gives every value its dims from a probe whose large weights are zeros made at run time', async () => {
    const m = emptyModel(17, 'probe');
    const b = new GraphBuilder(m.graph);
    b.input('x', 'float32', ['n', 48]);
    const w = 'w';
    m.graph.initializers.set(
      w,
      f32(
        [48, 40],
        Array.from({ length: 48 * 40 }, (_, i) => i % 7),
      ),
    );
    const y = b.op('MatMul', ['x', w]);
    b.op('Reshape', [y, b.ints([-1, 8, 5])], {}, { output: 'z' });
    b.output('z', 'float32', null);
    const shapes = await probeShapes(m, {}, { x: [3, 48] });
    expect(shapes.get(y)?.dims).toEqual([3, 40]);
    expect(shapes.get('z')?.dims).toEqual([3, 8, 5]);
    expect(shapes.get(w)?.dims).toEqual([48, 40]);
    // The probe copy has the weight as a ConstantOfShape node; the model given is untouched.
    const free = weightFree(m);
    expect(free.graph.initializers.has(w)).toBe(false);
    expect(free.graph.nodes[0]).toMatchObject({ opType: 'ConstantOfShape', outputs: [w] });
    expect(m.graph.initializers.get(w)?.dims).toEqual([48, 40]);
  });
});
