/**
 * The engine on a real exported architecture: the stories260K Llama (GGUF imported to ONNX by
 * src/gguf/llama-onnx.ts: RMSNorm as Pow/ReduceMean/Sqrt/Div, rotary Slice/Neg/Concat, grouped
 * attention with a Where mask, SiLU MLP). The graph is converted to float64 and gradients of
 * sum(seed * logits) w.r.t. weights and an intermediate activation are compared with central
 * finite differences (eps 1e-6), error < 1e-5 relative to max(1, |numeric|).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readGguf } from '../../src/gguf/reader.js';
import { buildLlamaOnnx } from '../../src/gguf/llama-onnx.js';
import { runModel, tensor, numel, type Model, type Tensor } from '../../src/index.js';
import { buildGradientGraph } from '../../src/autodiff/index.js';
import { graphFiniteDiff } from '../helpers/graph-fd.js';
import { randn } from '../helpers/gradcheck.js';

const ASSETS = process.env.CRISPR_ASSETS ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../../../shared/assets');
const GGUF = join(ASSETS, 'models/stories260K/stories260K.gguf');

/** The same graph with float32 initializers, constants, Cast targets and I/O switched to float64. */
function toFloat64(m: Model): Model {
  const to64 = (t: Tensor): Tensor => (t.dtype === 'float32' ? tensor('float64', t.dims, t.data as Float32Array) : t);
  const g = m.graph;
  return {
    ...m,
    graph: {
      ...g,
      initializers: new Map([...g.initializers].map(([k, v]) => [k, to64(v)])),
      inputs: g.inputs.map((v) => (v.dtype === 'float32' ? { ...v, dtype: 'float64' as const } : v)),
      outputs: g.outputs.map((v) => (v.dtype === 'float32' ? { ...v, dtype: 'float64' as const } : v)),
      valueInfo: [],
      nodes: g.nodes.map((n) => {
        const attributes = { ...n.attributes };
        for (const [k, a] of Object.entries(attributes)) {
          if (a.type === 'tensor') attributes[k] = { type: 'tensor', value: to64(a.value) };
          if (n.opType === 'Cast' && k === 'to' && a.type === 'int' && a.value === 1) attributes[k] = { type: 'int', value: 11 };
        }
        return { ...n, attributes };
      }),
    },
  };
}

describe.skipIf(!existsSync(GGUF))(`engine on the stories260K Llama graph (needs ${GGUF}; set CRISPR_ASSETS)`, () => {
  it('gradients of seeded logits w.r.t. weights and an activation match finite differences (float64)', async () => {
    const model = toFloat64(buildLlamaOnnx(readGguf(GGUF)).model);
    const T = 6;
    const feeds = { input_ids: tensor('int64', [1, T], [1, 403, 407, 261, 378, 22]), attention_mask: tensor('int64', [1, T], [1, 1, 1, 1, 1, 1]) };
    const logits = model.graph.outputs[0]!.name;
    const seed = randn([1, T, 512], 5, 'float64');
    const linear = model.graph.nodes.filter((n) => n.opType === 'MatMul' && model.graph.initializers.has(n.inputs[1]!));
    const wrt = [
      'model.embed_tokens.weight',
      'model.layers.0.input_layernorm.weight',
      linear[0]!.inputs[1]!, // layer 0 q_proj
      linear[3]!.inputs[1]!, // layer 0 o_proj
      linear[linear.length - 2]!.outputs[0]!, // last down_proj output (an activation)
    ];
    const { model: gm, gradients } = await buildGradientGraph(model, { objective: logits, wrt, feeds, seed: 'd_logits' });
    // 'basic': ORT's higher-level fusions have float-only kernels.
    const res = await runModel(gm, { ...feeds, d_logits: seed }, { optimization: 'basic' });
    for (const w of wrt) {
      const g = res[gradients.get(w)!]!;
      const n = numel(g.dims);
      // Embedding rows of the six tokens, elsewhere a spread of elements.
      const idx =
        w === 'model.embed_tokens.weight' ? [403 * 64, 407 * 64 + 5, 22 * 64 + 63, 0] : Array.from({ length: 8 }, (_, k) => Math.floor((k * n) / 8 + 3) % n);
      const numeric = await graphFiniteDiff(model, w, idx, { objective: logits, feeds, seed, eps: 1e-6 });
      expect(
        numeric.some((v) => Math.abs(v) > 1e-3),
        `${w}: non-trivial gradients sampled`,
      ).toBe(true);
      idx.forEach((i, k) => {
        const a = (g.data as Float64Array)[i]!;
        expect(Math.abs(a - numeric[k]!) / Math.max(1, Math.abs(numeric[k]!)), `${w}[${i}]: analytic ${a}, numeric ${numeric[k]}`).toBeLessThan(1e-5);
      });
    }
  });
});
