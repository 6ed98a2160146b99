/**
 * Einsum. The output is a sum of products, so the gradient of operand i is the Einsum of the
 * output gradient with the other operands, producing operand i's subscripts:
 *   dX_i[s_i] = sum over the remaining letters of dY[s_out] * prod_{j != i} X_j[s_j].
 * A letter found only in operand i (summed away by the forward op) does not occur on the right
 * side, so the gradient is computed without it and broadcast along that axis afterwards.
 * Supported: explicit or implicit output, any number of operands. Not supported (clear error):
 * ellipsis ('...') and a letter repeated inside one operand (diagonals).
 */
import type { GradRule } from '../rule.js';
import { unsqueeze } from '../emit.js';

interface Parsed {
  inputs: string[];
  output: string;
}

export function parseEinsum(equation: string, where: string): Parsed {
  const eq = equation.replace(/\s+/g, '');
  if (eq.includes('.')) throw new Error(`${where}: Einsum gradients with an ellipsis ('...') are not supported (equation '${equation}')`);
  const [lhs, rhs] = eq.split('->') as [string, string | undefined];
  const inputs = lhs.split(',');
  for (const s of inputs) {
    if (new Set(s).size !== s.length) throw new Error(`${where}: Einsum gradients with a letter repeated in one operand ('${s}', a diagonal) are not supported`);
  }
  let output = rhs;
  if (output === undefined) {
    // Implicit form: letters occurring exactly once, in alphabetical order.
    const count = new Map<string, number>();
    for (const s of inputs) for (const c of s) count.set(c, (count.get(c) ?? 0) + 1);
    output = [...count].filter(([, n]) => n === 1).map(([c]) => c).sort().join('');
  }
  return { inputs, output };
}

export const einsumRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy) return [];
  const g = ctx.b;
  const where = `node '${ctx.node.name}' (Einsum)`;
  const a = ctx.node.attributes.equation;
  if (!a || a.type !== 'string') throw new Error(`${where}: missing equation attribute`);
  const { inputs: subs, output } = parseEinsum(a.value, where);
  if (subs.length !== ctx.node.inputs.length) throw new Error(`${where}: equation has ${subs.length} operands, node has ${ctx.node.inputs.length} inputs`);
  return ctx.node.inputs.map((name, i) => {
    if (!ctx.needs[i]) return undefined;
    const mine = subs[i]!;
    const others = subs.filter((_, j) => j !== i);
    const otherNames = ctx.node.inputs.filter((_, j) => j !== i);
    const elsewhere = new Set([...output, ...others.join('')]);
    const kept = [...mine].filter((c) => elsewhere.has(c)).join('');
    let grad: string;
    const terms = output === '' ? others : [output, ...others];
    const operands = output === '' ? otherNames : [dy, ...otherNames];
    if (terms.length === 0) {
      grad = dy; // scalar output of a single operand: dX = dY broadcast
    } else {
      grad = g.op('Einsum', operands, { equation: `${terms.join(',')}->${kept}` });
      if (output === '') grad = g.op('Mul', [grad, dy]);
    }
    if (kept !== mine) {
      const missing = [...mine].map((c, ax) => (kept.includes(c) ? -1 : ax)).filter((ax) => ax >= 0);
      grad = unsqueeze(g, grad, missing, ctx.opset);
      grad = g.op('Expand', [grad, g.ints(ctx.meta(name).dims, 'shape')]);
    }
    return grad;
  });
};
