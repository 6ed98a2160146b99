/**
 * Every math gradient rule against central finite differences of the op in ORT (test/helpers/
 * gradcheck.ts), independent of the engine. float64 (eps 1e-6, error < 1e-6) wherever ORT's CPU
 * provider runs the op in double; Erf, Gelu (approximate='none', which ORT expands to Erf), Mean, the
 * com.microsoft Gelu variants and LayerNormalization's Mean/InvStdDev outputs only
 * run in float32, checked with eps 1e-2 and error < 5e-4 relative to max(1, |numeric|).
 */
import { describe, expect, it } from 'vitest';
import { tensor, type AttrInput, type Tensor } from '../../src/index.js';
import { checkRule, randn, uniform, type RuleCheckSpec } from '../helpers/gradcheck.js';

const TOL64 = 1e-6;
const TOL32 = 5e-4;

async function expectGrad(spec: RuleCheckSpec, tol = TOL64) {
  const r = await checkRule({ samples: 30, ...spec });
  expect(r.checked).toBeGreaterThan(0);
  if (r.maxError >= tol) {
    const worst = r.details.reduce((w, d) => (Math.abs(d.analytic - d.numeric) > Math.abs(w.analytic - w.numeric) ? d : w));
    throw new Error(`${spec.opType}: max error ${r.maxError} (input ${worst.input}[${worst.index}]: analytic ${worst.analytic}, numeric ${worst.numeric})`);
  }
  expect(r.maxError).toBeLessThan(tol);
}

const x = (v: Tensor, extra: { grad?: boolean; constant?: boolean } = {}) => ({ value: v, ...extra });

/** Values bounded away from 0 by at least `gap` (for kinks and divisions). */
function awayFromZero(dims: number[], seed: number, gap = 0.1): Tensor {
  const t = randn(dims, seed);
  const d = t.data as Float64Array;
  for (let i = 0; i < d.length; i++) if (Math.abs(d[i]!) < gap) d[i] = d[i]! < 0 ? -gap - 0.05 : gap + 0.05;
  return t;
}

describe('arithmetic rules (float64, broadcasting)', () => {
  it('Add with broadcasting on both sides', async () => {
    await expectGrad({ opType: 'Add', inputs: [x(randn([2, 3, 4], 1)), x(randn([4], 2))] });
    await expectGrad({ opType: 'Add', inputs: [x(randn([2, 1, 4], 3)), x(randn([3, 1], 4))] });
    await expectGrad({ opType: 'Add', inputs: [x(randn([], 5)), x(randn([3, 2], 6))] });
  });
  it('Sub with the larger operand second', async () => {
    await expectGrad({ opType: 'Sub', inputs: [x(randn([3, 4], 7)), x(randn([2, 3, 4], 8))] });
    await expectGrad({ opType: 'Sub', inputs: [x(randn([2, 3, 1], 9)), x(randn([1, 5], 10))] });
  });
  it('Mul with broadcasting and with a constant operand', async () => {
    await expectGrad({ opType: 'Mul', inputs: [x(randn([2, 3, 4], 11)), x(randn([3, 1], 12))] });
    await expectGrad({ opType: 'Mul', inputs: [x(randn([2, 3], 13)), x(randn([3], 14), { constant: true })] });
  });
  it('Div with broadcasting of numerator and denominator', async () => {
    await expectGrad({ opType: 'Div', inputs: [x(randn([2, 3], 15)), x(uniform([3], 0.5, 2, 16))] });
    await expectGrad({ opType: 'Div', inputs: [x(randn([4, 1], 17)), x(uniform([2, 1, 3], -2, -0.5, 18))] });
  });
  it('variadic Sum and Mean with three broadcast operands', async () => {
    await expectGrad({ opType: 'Sum', inputs: [x(randn([2, 3, 4], 101)), x(randn([4], 102)), x(randn([3, 1], 103))] });
    // ORT has no double Mean kernel: float32.
    await expectGrad({ opType: 'Mean', inputs: [x(randn([2, 3, 4], 104, 'float32')), x(randn([4], 105, 'float32')), x(randn([3, 1], 106, 'float32'))] }, TOL32);
    await expectGrad({ opType: 'Sum', inputs: [x(randn([3], 107))] });
  });
  it('Neg', async () => {
    await expectGrad({ opType: 'Neg', inputs: [x(randn([3, 5], 19))] });
  });
});

describe('Pow', () => {
  it('constant scalar exponents 2, 3 and 0.5', async () => {
    await expectGrad({ opType: 'Pow', inputs: [x(randn([3, 4], 20)), x(tensor('float64', [], [2]), { constant: true })] });
    await expectGrad({ opType: 'Pow', inputs: [x(randn([3, 4], 21)), x(tensor('float64', [], [3]), { constant: true })] });
    await expectGrad({ opType: 'Pow', inputs: [x(uniform([3, 4], 0.2, 3, 22)), x(tensor('float64', [], [0.5]), { constant: true })] });
  });
  it('integer (int64) constant exponent', async () => {
    await expectGrad({ opType: 'Pow', inputs: [x(randn([2, 3], 23)), x(tensor('int64', [], [3]), { constant: true })] });
  });
  it('broadcast constant exponent tensor', async () => {
    await expectGrad({ opType: 'Pow', inputs: [x(uniform([2, 3], 0.3, 2, 24)), x(tensor('float64', [3], [1.5, -1, 2.5]), { constant: true })] });
  });
  it('non-constant exponent: gradients of base and exponent (base > 0, broadcast)', async () => {
    await expectGrad({ opType: 'Pow', inputs: [x(uniform([2, 3], 0.3, 2.5, 25)), x(uniform([3], -1.5, 2, 26))] });
    await expectGrad({ opType: 'Pow', inputs: [x(uniform([3], 0.3, 2.5, 27)), x(uniform([2, 3], -1.5, 2, 28))] });
  });
});

describe('elementwise unary rules', () => {
  const cases: [string, Tensor][] = [
    ['Sqrt', uniform([3, 4], 0.2, 3, 30)],
    ['Reciprocal', awayFromZero([3, 4], 31, 0.3)],
    ['Exp', randn([3, 4], 32)],
    ['Log', uniform([3, 4], 0.2, 3, 33)],
    ['Tanh', randn([3, 4], 34)],
    ['Sigmoid', randn([3, 4], 35, 'float64', 2)],
    ['Sin', randn([3, 4], 36, 'float64', 2)],
    ['Cos', randn([3, 4], 37, 'float64', 2)],
    ['Relu', awayFromZero([3, 4], 38)],
  ];
  for (const [op, v] of cases) it(`${op} (float64)`, async () => expectGrad({ opType: op, inputs: [x(v)] }));
  it('LeakyRelu with alpha 0.2 and default alpha (float64)', async () => {
    await expectGrad({ opType: 'LeakyRelu', inputs: [x(awayFromZero([3, 4], 39))], attrs: { alpha: 0.2 } });
    await expectGrad({ opType: 'LeakyRelu', inputs: [x(awayFromZero([3, 4], 40))] });
  });
  it('Erf (float32: ORT has no double Erf)', async () => {
    await expectGrad({ opType: 'Erf', inputs: [x(randn([3, 4], 41, 'float32'))] }, TOL32);
  });
  it('Gelu approximate=none (float32, opset 20)', async () => {
    await expectGrad({ opType: 'Gelu', opset: 20, inputs: [x(randn([3, 4], 42, 'float32', 2))] }, TOL32);
  });
  it('Gelu approximate=tanh (float64, opset 20)', async () => {
    await expectGrad({ opType: 'Gelu', opset: 20, attrs: { approximate: 'tanh' }, inputs: [x(randn([3, 4], 43, 'float64', 2))] });
  });
});

describe('Softmax and LogSoftmax', () => {
  for (const op of ['Softmax', 'LogSoftmax']) {
    it(`${op} opset 13+: default, positive and negative axes`, async () => {
      await expectGrad({ opType: op, inputs: [x(randn([2, 3, 4], 50))] });
      await expectGrad({ opType: op, inputs: [x(randn([2, 3, 4], 51))], attrs: { axis: 1 } });
      await expectGrad({ opType: op, inputs: [x(randn([2, 3, 4], 52))], attrs: { axis: -3 } });
    });
    it(`${op} opset 11: coerced-to-2D semantics (axis 1 normalises over axes 1..)`, async () => {
      await expectGrad({ opType: op, opset: 11, inputs: [x(randn([2, 3, 4], 53))] });
      await expectGrad({ opType: op, opset: 11, inputs: [x(randn([2, 3, 4], 54))], attrs: { axis: -1 } });
      await expectGrad({ opType: op, opset: 11, inputs: [x(randn([2, 3, 4], 55))], attrs: { axis: 0 } });
    });
  }
});

describe('LayerNormalization', () => {
  it('gradients through the Mean and InvStdDev outputs (float32: ORT emits them in the stash type float32 and has no double stash)', async () => {
    await expectGrad(
      { opType: 'LayerNormalization', outputs: 3, inputs: [x(randn([3, 6], 71, 'float32')), x(randn([6], 72, 'float32')), x(randn([6], 73, 'float32'))] },
      TOL32,
    );
  });
  it('last axis with scale and bias', async () => {
    await expectGrad({ opType: 'LayerNormalization', inputs: [x(randn([2, 3, 5], 60)), x(randn([5], 61)), x(randn([5], 62))] });
  });
  it('axis 1 (normalising [3, 4]), epsilon, no bias', async () => {
    await expectGrad({ opType: 'LayerNormalization', attrs: { axis: 1, epsilon: 1e-3 }, inputs: [x(randn([2, 3, 4], 63)), x(randn([3, 4], 64))] });
  });
  it('negative axis -2 with broadcast scale [1, 4] and bias [4]', async () => {
    await expectGrad({ opType: 'LayerNormalization', attrs: { axis: -2 }, inputs: [x(randn([2, 3, 4], 65)), x(randn([1, 4], 66)), x(randn([4], 67))] });
  });
});

describe('RMS and fused normalisations', () => {
  it('RMSNormalization (opset 23): last axis and axis 1 with broadcast scale (float64)', async () => {
    await expectGrad({ opType: 'RMSNormalization', opset: 23, inputs: [x(randn([2, 3, 5], 150)), x(randn([5], 151))] });
    await expectGrad({ opType: 'RMSNormalization', opset: 23, attrs: { axis: 1, epsilon: 1e-3 }, inputs: [x(randn([2, 3, 4], 152)), x(randn([1, 4], 153))] });
  });
  it('SimplifiedLayerNormalization with its InvStdDev output (float32 kernel only)', async () => {
    await expectGrad({ opType: 'SimplifiedLayerNormalization', outputs: 2, inputs: [x(randn([3, 6], 154, 'float32')), x(randn([6], 155, 'float32'))] }, TOL32);
  });
  it('com.microsoft SkipLayerNormalization: all inputs and all four outputs (float32)', async () => {
    await expectGrad(
      {
        opType: 'SkipLayerNormalization',
        domain: 'com.microsoft',
        outputs: 4,
        attrs: { epsilon: 1e-5 },
        inputs: [
          x(randn([2, 3, 6], 156, 'float32')),
          x(randn([2, 3, 6], 157, 'float32')),
          x(randn([6], 158, 'float32')),
          x(randn([6], 159, 'float32')),
          x(randn([6], 160, 'float32')),
        ],
      },
      TOL32,
    );
  });
  it('com.microsoft SkipSimplifiedLayerNormalization with bias (float32)', async () => {
    await expectGrad(
      {
        opType: 'SkipSimplifiedLayerNormalization',
        domain: 'com.microsoft',
        outputs: 1,
        attrs: { epsilon: 1e-5 },
        inputs: [x(randn([2, 3, 6], 161, 'float32')), x(randn([2, 3, 6], 162, 'float32')), x(randn([6], 163, 'float32')), x(randn([6], 164, 'float32'))],
      },
      TOL32,
    );
  });
});

describe('MatMul', () => {
  const cases: [string, number[], number[]][] = [
    ['2-D', [3, 4], [4, 5]],
    ['square (a dropped transpose still type-checks)', [2, 4, 4], [4, 4]],
    ['batched A, 2-D weight (linear layer)', [2, 3, 4], [4, 5]],
    ['batched both', [2, 3, 4], [2, 4, 5]],
    ['broadcast batch axes', [2, 1, 3, 4], [5, 4, 2]],
    ['2-D A, batched B', [3, 4], [2, 4, 5]],
    ['1-D A', [4], [2, 4, 3]],
    ['1-D B', [2, 3, 4], [4]],
    ['1-D both', [4], [4]],
  ];
  for (const [name, ad, bd] of cases) {
    it(`${name}: [${ad}] @ [${bd}]`, async () => {
      await expectGrad({ opType: 'MatMul', inputs: [x(randn(ad, 80)), x(randn(bd, 81))] });
    });
  }
});

describe('Gemm', () => {
  for (const transA of [0, 1]) {
    for (const transB of [0, 1]) {
      it(`transA=${transA} transB=${transB}, alpha 0.7, beta 1.3, C [N]`, async () => {
        const a = transA ? [4, 3] : [3, 4];
        const bb = transB ? [5, 4] : [4, 5];
        await expectGrad({ opType: 'Gemm', attrs: { transA, transB, alpha: 0.7, beta: 1.3 }, inputs: [x(randn(a, 90)), x(randn(bb, 91)), x(randn([5], 92))] });
      });
    }
  }
  it('C broadcast from [M, 1] and from a scalar; no C', async () => {
    await expectGrad({ opType: 'Gemm', inputs: [x(randn([3, 4], 93)), x(randn([4, 5], 94)), x(randn([3, 1], 95))] });
    await expectGrad({ opType: 'Gemm', attrs: { beta: 0.5 }, inputs: [x(randn([3, 4], 96)), x(randn([4, 5], 97)), x(randn([], 98))] });
    await expectGrad({ opType: 'Gemm', attrs: { transB: 1 }, inputs: [x(randn([3, 4], 99)), x(randn([5, 4], 100))] });
  });
});

describe('Einsum', () => {
  const cases: [string, number[][]][] = [
    [
      'ij,jk->ik',
      [
        [3, 4],
        [4, 5],
      ],
    ],
    [
      'bij,bjk->bik',
      [
        [2, 3, 4],
        [2, 4, 5],
      ],
    ],
    [
      'bhqd,bhkd->bhqk',
      [
        [2, 2, 3, 4],
        [2, 2, 5, 4],
      ],
    ],
    [
      'ij,jk',
      [
        [3, 4],
        [4, 2],
      ],
    ],
    ['ij->ji', [[3, 4]]],
    ['ij->j', [[3, 4]]],
    ['ij->', [[3, 4]]],
    ['i,i->', [[5], [5]]],
    [
      'ij,jk->i',
      [
        [3, 4],
        [4, 2],
      ],
    ],
    [
      'ij,jk,kl->il',
      [
        [2, 3],
        [3, 4],
        [4, 2],
      ],
    ],
    ['i j , j -> i', [[3, 4], [4]]],
    [
      '...ij,...jk->...ik',
      [
        [2, 3, 4],
        [2, 4, 5],
      ],
    ],
    [
      '...ij,...jk->...ik (size-1 broadcast of the ellipsis)',
      [
        [2, 3, 4],
        [1, 4, 5],
      ],
    ],
    [
      '...ij,jk->...ik',
      [
        [2, 3, 4],
        [4, 5],
      ],
    ],
    [
      '...ij,...j->...i',
      [
        [2, 3, 4],
        [2, 4],
      ],
    ],
    ['...ij->...j', [[2, 3, 4]]],
    [
      '...ij,...jk',
      [
        [2, 3, 4],
        [2, 4, 5],
      ],
    ],
  ];
  for (const [eq, dims] of cases) {
    it(`'${eq}'`, async () => {
      await expectGrad({ opType: 'Einsum', attrs: { equation: eq.replace(/ \(.*\)$/, '') }, opset: 12, inputs: dims.map((d, k) => x(randn(d, 110 + k))) });
    });
  }
  it('rejects an inner ellipsis and diagonals with a clear error', async () => {
    await expect(
      checkRule({ opType: 'Einsum', attrs: { equation: 'i...j,j->i...' }, opset: 12, inputs: [x(randn([2, 3, 4], 1)), x(randn([4], 2))] }),
    ).rejects.toThrow(/ellipsis only at the start/);
    await expect(checkRule({ opType: 'Einsum', attrs: { equation: 'ii->i' }, opset: 12, inputs: [x(randn([3, 3], 1))] })).rejects.toThrow(/diagonal/);
  });
});

describe('onnxruntime fused Gelu variants (com.microsoft, float32 kernels only)', () => {
  const ms = { domain: 'com.microsoft' };
  it('Gelu', async () => {
    await expectGrad({ ...ms, opType: 'Gelu', inputs: [x(randn([3, 4], 120, 'float32', 2))] }, TOL32);
  });
  it('BiasGelu with broadcast bias', async () => {
    await expectGrad({ ...ms, opType: 'BiasGelu', inputs: [x(randn([2, 3, 4], 121, 'float32', 2)), x(randn([4], 122, 'float32'))] }, TOL32);
  });
  it('FastGelu with and without bias', async () => {
    await expectGrad({ ...ms, opType: 'FastGelu', inputs: [x(randn([2, 3, 4], 123, 'float32', 2)), x(randn([4], 124, 'float32'))] }, TOL32);
    await expectGrad({ ...ms, opType: 'FastGelu', inputs: [x(randn([3, 4], 125, 'float32', 2))] }, TOL32);
  });
  it('QuickGelu with default and explicit alpha', async () => {
    await expectGrad({ ...ms, opType: 'QuickGelu', inputs: [x(randn([3, 4], 126, 'float32', 2))] }, TOL32);
    await expectGrad({ ...ms, opType: 'QuickGelu', attrs: { alpha: 1.0 }, inputs: [x(randn([3, 4], 127, 'float32', 2))] }, TOL32);
  });
});

describe('further activations and trig functions', () => {
  const f64: [string, Tensor, Record<string, AttrInput>?][] = [
    ['Softplus', randn([3, 4], 130, 'float64', 2)],
    ['Softsign', awayFromZero([3, 4], 131)],
    ['Elu', awayFromZero([3, 4], 132), { alpha: 0.7 }],
    ['Selu', awayFromZero([3, 4], 133)],
    ['HardSigmoid', uniform([3, 4], -2, 2, 134), { alpha: 0.3, beta: 0.4 }],
    ['HardSwish', uniform([3, 4], -4.5, 4.5, 135)],
    ['Mish', randn([3, 4], 136, 'float64', 2)],
    ['ThresholdedRelu', uniform([3, 4], -1, 3, 137), { alpha: 0.5 }],
  ];
  for (const [op, v, attrs] of f64) it(`${op} (float64)`, async () => expectGrad({ opType: op, opset: 18, inputs: [x(v)], ...(attrs ? { attrs } : {}) }));
  it('PRelu with a broadcast slope (float64)', async () => {
    await expectGrad({ opType: 'PRelu', inputs: [x(awayFromZero([2, 3, 4], 138)), x(randn([3, 1], 139))] });
  });
  const f32: [string, Tensor, Record<string, AttrInput>?][] = [
    ['Celu', awayFromZero([3, 4], 140), { alpha: 1.5 }],
    ['Sinh', randn([3, 4], 141)],
    ['Cosh', randn([3, 4], 142)],
    ['Tan', uniform([3, 4], -1.2, 1.2, 143)],
    ['Atan', randn([3, 4], 144, 'float64', 2)],
    ['Asin', uniform([3, 4], -0.8, 0.8, 145)],
    ['Acos', uniform([3, 4], -0.8, 0.8, 146)],
    ['Asinh', randn([3, 4], 147, 'float64', 2)],
    ['Acosh', uniform([3, 4], 1.3, 3, 148)],
    ['Atanh', uniform([3, 4], -0.8, 0.8, 149)],
  ];
  for (const [op, v, attrs] of f32) {
    it(`${op} (float32: no double kernel in ORT)`, async () => {
      const v32 = tensor('float32', v.dims, v.data as Float64Array);
      await expectGrad({ opType: op, opset: 18, inputs: [x(v32)], ...(attrs ? { attrs } : {}) }, TOL32);
    });
  }
});
