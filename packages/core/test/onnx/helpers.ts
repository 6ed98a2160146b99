/** Shared fixtures of the graph-pass tests: ORT runs and exact output comparison. */
import { expect } from 'vitest';
import onnxProto from 'onnx-proto';
import { encodeModel, runModel, type Model, type Tensor } from '../../src/index.js';

const { onnx } = onnxProto as unknown as { onnx: any };

export async function run(model: Model | Uint8Array, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  return runModel(model, feeds, { optimization: 'disabled' });
}

export function plain(t: Tensor): { dtype: string; dims: number[]; data: unknown[] } {
  return { dtype: t.dtype, dims: [...t.dims], data: Array.from(t.data as ArrayLike<unknown>) };
}

/** Runs both models on the same feeds and expects bit-identical outputs under the given names. */
export async function expectSameOutputs(a: Model, b: Model, feeds: Record<string, Tensor>, names?: string[]): Promise<Record<string, Tensor>> {
  const ra = await run(a, feeds);
  const rb = await run(b, feeds);
  const keys = names ?? Object.keys(ra);
  expect(keys.length).toBeGreaterThan(0);
  for (const k of keys) {
    expect(rb[k], `output ${k}`).toBeDefined();
    expect(plain(rb[k]!), `output ${k}`).toEqual(plain(ra[k]!));
  }
  return ra;
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randoms(n: number, seed = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Model bytes whose graph outputs carry no type, so ORT infers them (single-op fixtures). */
export function untypedOutputs(model: Model): Uint8Array {
  const proto = onnx.ModelProto.decode(encodeModel(model));
  for (const o of proto.graph.output) o.type = null;
  return onnx.ModelProto.encode(proto).finish();
}
