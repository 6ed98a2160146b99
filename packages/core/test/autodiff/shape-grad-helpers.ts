/** Shared assertions for the structural rule tests: every listed input's gradient against central differences. */
import { expect } from 'vitest';
import { checkRule, type RuleCheckSpec } from '../helpers/gradcheck.js';
import { GraphBuilder, emptyModel, createSession, encodeModel, probeShapes, type AttrInput, type Tensor } from '../../src/index.js';
import type { GradContext } from '../../src/autodiff/rule.js';
import { getRule } from '../../src/autodiff/registry.js';

/** Checks every element (up to 400) of every differentiable input; float64 error bound by default. */
export async function expectGrad(spec: RuleCheckSpec, tol = 1e-6): Promise<void> {
  const r = await checkRule({ samples: 400, ...spec });
  expect(r.checked).toBeGreaterThan(0);
  if (r.maxError >= tol) {
    const worst = [...r.details].sort((a, b) => Math.abs(b.analytic - b.numeric) - Math.abs(a.analytic - a.numeric)).slice(0, 5);
    throw new Error(`${spec.opType}: max error ${r.maxError} >= ${tol}; worst ${JSON.stringify(worst)}`);
  }
}

/**
 * Runs a rule on a one-node graph with given input values and given output gradients (undefined =
 * none flows), for what finite differences cannot show: missing output gradients, tie conventions,
 * integer outputs. Inputs with `constant` become initializers. Returns the rule's gradient values
 * (undefined where it returned none).
 */
export async function evalRule(
  opType: string,
  inputs: ({ value: Tensor; constant?: boolean } | null)[],
  dys: (Tensor | undefined)[],
  attrs: Record<string, AttrInput> = {},
  opset = 17,
): Promise<(Tensor | undefined)[]> {
  const model = emptyModel(opset);
  const b = new GraphBuilder(model.graph);
  const feeds: Record<string, Tensor> = {};
  const names = inputs.map((inp, i) => {
    if (!inp) return '';
    if (inp.constant) return b.initializer(`x${i}`, inp.value);
    feeds[`x${i}`] = inp.value;
    return b.input(`x${i}`, inp.value.dtype, inp.value.dims);
  });
  const ys = b.node(opType, names, attrs, { outputs: dys.length });
  const node = model.graph.nodes[model.graph.nodes.length - 1]!;
  const shapes = await probeShapes(model, feeds);
  const dy = dys.map((t, k) => (t ? b.constant(t, `dy${k}`) : undefined));
  const ctx: GradContext = {
    node,
    b,
    dy,
    needs: inputs.map((inp) => !!inp && !inp.constant && (inp.value.dtype === 'float64' || inp.value.dtype === 'float32')),
    meta: (n) =>
      shapes.get(n) ??
      (() => {
        throw new Error(`no shape for ${n}`);
      })(),
    constant: (n) => model.graph.initializers.get(n),
    opset,
  };
  void ys;
  const grads = getRule(opType)!(ctx);
  const outs = grads.filter((g): g is string => !!g);
  if (!outs.length) return grads.map(() => undefined);
  model.graph.outputs = outs.map((g) => ({ name: g, dtype: 'float64', shape: null }));
  const session = await createSession(encodeModel(model), { optimization: 'disabled' });
  try {
    const res = await session.run(feeds);
    return grads.map((g) => (g ? res[g] : undefined));
  } finally {
    await session.release();
  }
}

export const values = (t: Tensor | undefined): number[] => Array.from(t!.data as Float64Array);
