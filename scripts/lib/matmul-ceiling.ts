/**
 * The ceiling the benchmarks compare against: the GFLOP/s of one large float32 MatMul (n x n by
 * n x n) in onnxruntime on this machine, the median of `runs` timed runs after one warm-up.
 */
import { createSession, emptyModel, GraphBuilder, tensor } from '../../packages/core/src/index.js';
import { median } from './benchmarks-md.js';

export async function matmulCeilingGflops(n: number, runs: number): Promise<number> {
  const m = emptyModel(17, 'matmul');
  const b = new GraphBuilder(m.graph);
  b.input('a', 'float32', [n, n]);
  b.op('MatMul', ['a', 'a'], {}, { output: 'y' });
  b.output('y', 'float32', [n, n]);
  const s = await createSession(m);
  const a = tensor(
    'float32',
    [n, n],
    Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000),
  );
  await s.run({ a });
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await s.run({ a });
    times.push(performance.now() - t);
  }
  await s.release();
  return (2 * n ** 3) / (median(times) / 1000) / 1e9;
}
