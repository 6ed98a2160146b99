/**
 * Non-finite weights: one NaN in a weight makes every score NaN downstream, where nothing can
 * say which weight it came from. So a model folder is checked when it loads, and the error names
 * the file, the initializer and the first bad element.
 */
import type { Model, Tensor } from '../onnx/types.js';

export interface NonFiniteWeight {
  file: string;
  initializer: string;
  dims: number[];
  /** How many elements are NaN or infinite. */
  count: number;
  /** Flat index and value of the first one. */
  first: number;
  value: number;
}

// Half-precision bit patterns: exponent all ones means infinity or NaN.
const HALF_EXP = 0x7c00;
const BF16_EXP = 0x7f80;

function scan(t: Tensor): { count: number; first: number; value: number } | null {
  let count = 0;
  let first = -1;
  let value = 0;
  if (t.dtype === 'float32' || t.dtype === 'float64') {
    const a = t.data as Float32Array | Float64Array;
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      if (x - x !== 0) {
        if (first < 0) [first, value] = [i, x];
        count++;
      }
    }
  } else if (t.dtype === 'float16' || t.dtype === 'bfloat16') {
    const a = t.data as Uint16Array;
    const exp = t.dtype === 'float16' ? HALF_EXP : BF16_EXP;
    const mant = t.dtype === 'float16' ? 0x03ff : 0x007f;
    for (let i = 0; i < a.length; i++) {
      if ((a[i]! & exp) === exp) {
        if (first < 0) [first, value] = [i, a[i]! & mant ? NaN : a[i]! & 0x8000 ? -Infinity : Infinity];
        count++;
      }
    }
  } else return null;
  return count ? { count, first, value } : null;
}

/** Every float initializer of `model` that holds a NaN or an infinity. */
export function nonFiniteWeights(model: Model, file: string): NonFiniteWeight[] {
  const out: NonFiniteWeight[] = [];
  for (const [name, t] of model.graph.initializers) {
    const r = scan(t);
    if (r) out.push({ file, initializer: name, dims: t.dims, ...r });
  }
  return out;
}

/** The flat index as a multi-index, `[17, 3]`. */
export function multiIndex(flat: number, dims: readonly number[]): number[] {
  const idx: number[] = [];
  for (let d = dims.length - 1; d >= 0; d--) {
    idx.unshift(flat % dims[d]!);
    flat = Math.floor(flat / dims[d]!);
  }
  return idx;
}

export function describeNonFinite(w: NonFiniteWeight): string {
  return `${w.file}: initializer '${w.initializer}' [${w.dims.join(', ')}] has ${w.count} non-finite value(s), first ${w.value} at [${multiIndex(w.first, w.dims).join(', ')}]`;
}

export class NonFiniteWeightsError extends Error {
  constructor(
    readonly dir: string,
    readonly weights: NonFiniteWeight[],
  ) {
    super(
      `${dir}: the model has non-finite weights, so every score would be NaN:\n  ${weights.slice(0, 10).map(describeNonFinite).join('\n  ')}${weights.length > 10 ? `\n  ... and ${weights.length - 10} more initializers` : ''}`,
    );
    this.name = 'NonFiniteWeightsError';
  }
}

/** Throws NonFiniteWeightsError naming every initializer with a NaN or infinity. */
export function checkFiniteWeights(dir: string, files: { file: string; model: Model }[]): void {
  const bad = files.flatMap((f) => nonFiniteWeights(f.model, f.file));
  if (bad.length) throw new NonFiniteWeightsError(dir, bad);
}
