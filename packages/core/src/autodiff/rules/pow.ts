/**
 * Pow y = a^b. da = dy * b * a^(b-1). db = dy * y * ln(a) where a > 0; where a <= 0 the real
 * derivative in b does not exist (a < 0) or is 0 (a = 0, b > 0), and 0 is emitted.
 */
import type { GradRule } from '../rule.js';
import type { Tensor } from '../../onnx/types.js';
import { numel, halfToFloat } from '../../onnx/tensor.js';
import { dtypeCode } from '../../onnx/dtype.js';
import { floatTensor, outDtype, scalarLike, toInputShape } from './math-common.js';

/** Element i of a constant exponent as a number (half types decoded from their bit patterns). */
function constantElement(t: Tensor, i: number): number {
  const v = (t.data as ArrayLike<number | bigint>)[i]!;
  if (t.dtype === 'float16') return halfToFloat(v as number);
  if (t.dtype === 'bfloat16') return new Float32Array(new Uint32Array([(v as number) << 16]).buffer)[0]!;
  return Number(v);
}

export const powRule: GradRule = (ctx) => {
  const dy = ctx.dy[0];
  if (!dy) return [];
  const g = ctx.b;
  const [a, b] = ctx.node.inputs as [string, string];
  const y = ctx.node.outputs[0]!;
  const dt = outDtype(ctx);
  const out: (string | undefined)[] = [undefined, undefined];
  if (ctx.needs[0]) {
    const expMeta = ctx.meta(b);
    const known = ctx.constant(b);
    let bF: string; // exponent in the base's dtype
    let bMinus1: string;
    if (known && !ctx.needs[1]) {
      // Constant exponent: fold b and b-1 into constants of the forward dtype.
      const vals = Array.from({ length: numel(known.dims) }, (_, i) => constantElement(known, i));
      bF = g.constant(floatTensor(dt, known.dims, vals), 'pow_exp');
      bMinus1 = g.constant(
        floatTensor(
          dt,
          known.dims,
          vals.map((v) => v - 1),
        ),
        'pow_exp_m1',
      );
    } else {
      bF = expMeta.dtype === dt ? b : g.op('Cast', [b], { to: dtypeCode(dt) });
      bMinus1 = g.op('Sub', [bF, scalarLike(ctx, 1, dt, 'one')]);
    }
    const local = g.op('Mul', [bF, g.op('Pow', [a, bMinus1])]);
    out[0] = toInputShape(ctx, g.op('Mul', [dy, local]), 0);
  }
  if (ctx.needs[1]) {
    const zero = scalarLike(ctx, 0, dt, 'zero');
    const pos = g.op('Greater', [a, zero]);
    const safeA = g.op('Where', [pos, a, scalarLike(ctx, 1, dt, 'one')]);
    const local = g.op('Where', [pos, g.op('Mul', [y, g.op('Log', [safeA])]), zero]);
    out[1] = toInputShape(ctx, g.op('Mul', [dy, local]), 1);
  }
  return out;
};
