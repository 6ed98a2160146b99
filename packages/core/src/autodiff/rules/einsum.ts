/**
 * Einsum. The output is a sum of products, so the gradient of operand i is the Einsum of the
 * output gradient with the other operands, producing operand i's subscripts:
 *   dX_i[s_i] = sum over the remaining letters of dY[s_out] * prod_{j != i} X_j[s_j].
 * A letter found only in operand i (summed away by the forward op) does not occur on the right
 * side, so the gradient is computed without it and broadcast along that axis afterwards. A leading
 * ellipsis ('...ij') is supported with numpy broadcasting of the ellipsis axes: the gradient is
 * formed at the broadcast shape, then expanded and summed back to the operand's shape.
 * Not supported (clear error): an ellipsis anywhere but at the start of a term, and a letter
 * repeated inside one term (diagonals).
 */
import type { GradRule } from '../rule.js';
import { sumToShape, unsqueeze } from '../emit.js';

const ELLIPSIS = '...';

interface Term {
  ellipsis: boolean;
  letters: string;
}

export interface ParsedEinsum {
  inputs: Term[];
  output: Term;
}

function parseTerm(s: string, where: string, equation: string): Term {
  const at = s.indexOf(ELLIPSIS);
  if (at > 0 || (at === 0 && s.indexOf(ELLIPSIS, 1) >= 0)) {
    throw new Error(`${where}: Einsum gradients support an ellipsis only at the start of a term ('${s}' in '${equation}')`);
  }
  const letters = at === 0 ? s.slice(ELLIPSIS.length) : s;
  if (!/^[A-Za-z]*$/.test(letters)) throw new Error(`${where}: cannot parse Einsum term '${s}' in '${equation}'`);
  if (new Set(letters).size !== letters.length) {
    throw new Error(`${where}: Einsum gradients with a letter repeated in one term ('${s}', a diagonal) are not supported`);
  }
  return { ellipsis: at === 0, letters };
}

export function parseEinsum(equation: string, where: string): ParsedEinsum {
  const eq = equation.replace(/\s+/g, '');
  const [lhs, rhs] = eq.split('->') as [string, string | undefined];
  const inputs = lhs.split(',').map((s) => parseTerm(s, where, equation));
  let output: Term;
  if (rhs === undefined) {
    // Implicit form: letters occurring exactly once, alphabetically, after the broadcast ellipsis.
    const count = new Map<string, number>();
    for (const t of inputs) for (const c of t.letters) count.set(c, (count.get(c) ?? 0) + 1);
    const letters = [...count]
      .filter(([, n]) => n === 1)
      .map(([c]) => c)
      .sort()
      .join('');
    output = { ellipsis: inputs.some((t) => t.ellipsis), letters };
  } else {
    output = parseTerm(rhs, where, equation);
  }
  return { inputs, output };
}

const termString = (t: Term) => (t.ellipsis ? ELLIPSIS : '') + t.letters;

/** numpy broadcast of two shapes (right-aligned). */
function broadcast(a: readonly number[], b: readonly number[], where: string): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`${where}: Einsum shapes [${a}] and [${b}] do not broadcast`);
    out.push(Math.max(x, y));
  }
  return out;
}

export const einsumRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy) return [];
  const g = ctx.b;
  const where = `node '${ctx.node.name}' (Einsum)`;
  const a = ctx.node.attributes.equation;
  if (a?.type !== 'string') throw new Error(`${where}: missing equation attribute`);
  const { inputs: terms, output } = parseEinsum(a.value, where);
  const names = ctx.node.inputs;
  if (terms.length !== names.length) throw new Error(`${where}: equation has ${terms.length} operands, node has ${names.length} inputs`);

  // Static sizes of every letter and of every operand's ellipsis axes.
  const letterSize = new Map<string, number>();
  const ellipsisDims: number[][] = terms.map((t, i) => {
    const dims = ctx.meta(names[i]!).dims;
    const e = dims.length - t.letters.length;
    if (e < 0 || (!t.ellipsis && e !== 0)) throw new Error(`${where}: operand ${i} has rank ${dims.length}, term '${termString(t)}' needs ${t.letters.length}`);
    [...t.letters].forEach((c, k) => {
      const d = dims[e + k]!;
      if (d !== 1 || !letterSize.has(c)) letterSize.set(c, Math.max(d, letterSize.get(c) ?? 1));
    });
    return dims.slice(0, e);
  });
  const outEllipsis = output.ellipsis ? ellipsisDims.reduce((acc, d) => broadcast(acc, d, where), [] as number[]) : [];

  return names.map((name, i) => {
    if (!ctx.needs[i]) return undefined;
    const mine = terms[i]!;
    const xDims = ctx.meta(name).dims;
    // The gradient einsum: dY (unless the output is a scalar) and the other operands.
    const rhsTerms: Term[] = [];
    const rhsNames: string[] = [];
    const rhsEllipsis: number[][] = [];
    if (output.letters.length > 0 || output.ellipsis) {
      rhsTerms.push(output);
      rhsNames.push(dy);
      rhsEllipsis.push(outEllipsis);
    }
    terms.forEach((t, j) => {
      if (j === i) return;
      rhsTerms.push(t);
      rhsNames.push(names[j]!);
      rhsEllipsis.push(t.ellipsis ? ellipsisDims[j]! : []);
    });
    const present = new Set(rhsTerms.flatMap((t) => [...t.letters]));
    const kept = [...mine.letters].filter((c) => present.has(c)).join('');
    const resultEllipsis = rhsTerms.some((t) => t.ellipsis);
    const eDims = resultEllipsis ? rhsTerms.reduce((acc, t, k) => (t.ellipsis ? broadcast(acc, rhsEllipsis[k]!, where) : acc), [] as number[]) : [];
    let grad: string;
    if (rhsTerms.length === 0) {
      grad = dy; // a single operand reduced to a scalar: dX = dY everywhere
    } else {
      const eq = `${rhsTerms.map(termString).join(',')}->${termString({ ellipsis: resultEllipsis, letters: kept })}`;
      grad = g.op('Einsum', rhsNames, { equation: eq });
      if (rhsNames[0] !== dy) grad = g.op('Mul', [grad, dy]); // scalar output: scale by dY
    }
    // Re-insert summed-away letters as size-1 axes, then broadcast/sum to the operand's shape.
    const missing = [...mine.letters].map((c, k) => (kept.includes(c) ? -1 : eDims.length + k)).filter((ax) => ax >= 0);
    if (missing.length) grad = unsqueeze(g, grad, missing, ctx.opset);
    const gDims = [...eDims, ...[...mine.letters].map((c) => (kept.includes(c) ? letterSize.get(c)! : 1))];
    const full = broadcast(gDims, xDims, where);
    if (full.join() !== gDims.join()) grad = g.op('Expand', [grad, g.ints(full, 'shape')]);
    return sumToShape(g, grad, full, xDims, ctx.opset);
  });
};
