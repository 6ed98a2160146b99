import { describe, expect, it } from 'vitest';
import { GraphBuilder, emptyModel, f32, i64, runModel, toNumbers, type Model, type Tensor } from '../../src/index.js';
import { findSites } from '../../src/models/sites.js';
import { addSiteMasks, maskFeeds, onesMasks, pruningMasks } from '../../src/models/masks.js';
import { groupNeurons, pruneModel } from '../../src/models/prune.js';
import { gpt2LikeModel, rand, t5LikeModel, T5_DIMS, GPT2_DIMS } from './fixtures.js';

function t5Feeds(): Record<string, Tensor> {
  return {
    input_ids: i64([2, 3], [1, 5, 7, 2, 9, 15]),
    attention_mask: i64([2, 3], [1, 1, 1, 1, 1, 1]),
    decoder_input_ids: i64([2, 2], [0, 3, 0, 11]),
  };
}

function gptFeeds(): Record<string, Tensor> {
  const r = rand(9);
  return {
    x: f32(
      [4, GPT2_DIMS.D],
      Array.from({ length: 4 * GPT2_DIMS.D }, () => r()),
    ),
  };
}

const maxAbsDiff = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

describe('addSiteMasks', () => {
  it('adds one [width] float input per site and reproduces the model exactly with ones', async () => {
    for (const [model, feeds] of [
      [t5LikeModel(), t5Feeds()],
      [gpt2LikeModel(), gptFeeds()],
    ] as [Model, Record<string, Tensor>][]) {
      const sites = findSites(model);
      const masked = addSiteMasks(model, sites);
      for (const s of sites) {
        const inp = masked.model.graph.inputs.find((i) => i.name === `mask.${s.name}`);
        expect(inp).toEqual({ name: `mask.${s.name}`, dtype: 'float32', shape: [s.width] });
        expect(masked.maskInputs.get(s.name)).toBe(`mask.${s.name}`);
        const mul = masked.model.graph.nodes.find((n) => n.outputs[0] === masked.maskedOutputs.get(s.name))!;
        expect(mul.opType).toBe('Mul');
        expect(mul.inputs).toEqual([s.output, `mask.${s.name}`]);
        // Only the Mul still reads the raw output.
        expect(masked.model.graph.nodes.filter((n) => n.inputs.includes(s.output))).toEqual([mul]);
      }
      // The source model is untouched.
      expect(model.graph.inputs.some((i) => i.name.startsWith('mask.'))).toBe(false);
      const base = toNumbers((await runModel(model, feeds)).logits!);
      const ones = toNumbers((await runModel(masked.model, { ...feeds, ...maskFeeds(sites, onesMasks(sites)) })).logits!);
      expect(ones).toEqual(base);
    }
  });

  it('zeroing mask units equals zeroing those units in weight and bias (pruneModel), and changes the output', async () => {
    for (const [model, feeds, neurons] of [
      [
        t5LikeModel(),
        t5Feeds(),
        [
          { site: 'encoder.block.0.layer.0.SelfAttention.q', unit: 3 },
          { site: 'encoder.block.0.layer.1.DenseReluDense.wi', unit: 0 },
          { site: 'decoder.block.0.layer.1.EncDecAttention.k', unit: 11 },
          { site: 'decoder.block.0.layer.2.DenseReluDense.wi_1', unit: 4 },
          { site: 'decoder.block.0.layer.2.DenseReluDense.wo', unit: T5_DIMS.D - 1 },
        ],
      ],
      [
        gpt2LikeModel(),
        gptFeeds(),
        [
          { site: 'transformer.h.0.attn.c_attn', unit: 7 },
          { site: 'transformer.h.0.attn.c_proj', unit: 2 }, // Transpose'd weight: a row of the stored tensor
          { site: 'transformer.h.0.mlp.c_fc', unit: 5 }, // Gemm transB with bias
          { site: 'transformer.h.0.mlp.c_proj', unit: 1 }, // bias-first Add
        ],
      ],
    ] as [Model, Record<string, Tensor>, { site: string; unit: number }[]][]) {
      const sites = findSites(model);
      const masked = addSiteMasks(model, sites);
      const base = toNumbers((await runModel(model, feeds)).logits!);
      const viaMask = toNumbers((await runModel(masked.model, { ...feeds, ...maskFeeds(sites, pruningMasks(sites, neurons)) })).logits!);
      const pruned = pruneModel(model, sites, groupNeurons(sites, neurons));
      const viaPrune = toNumbers((await runModel(pruned, feeds)).logits!);
      expect(maxAbsDiff(viaMask, viaPrune)).toBeLessThan(1e-6);
      expect(maxAbsDiff(viaMask, base)).toBeGreaterThan(1e-3);
      // Each neuron alone also matters and matches (catches a wrong axis hidden by another unit).
      for (const n of neurons) {
        const one = toNumbers((await runModel(masked.model, { ...feeds, ...maskFeeds(sites, pruningMasks(sites, [n])) })).logits!);
        const p1 = toNumbers((await runModel(pruneModel(model, sites, groupNeurons(sites, [n])), feeds)).logits!);
        expect(maxAbsDiff(one, p1), n.site).toBeLessThan(1e-6);
        expect(maxAbsDiff(one, base), n.site).toBeGreaterThan(1e-6);
      }
      // pruneModel copies: the source weights are unchanged.
      expect(toNumbers((await runModel(model, feeds)).logits!)).toEqual(base);
    }
  });

  it('applies a mask to a site value read inside an If branch', async () => {
    const m = emptyModel(17, 'if-reader');
    const b = new GraphBuilder(m.graph);
    const x = b.input('x', 'float32', [1, 2]);
    const cond = b.input('cond', 'bool', []);
    const h = b.op(
      'MatMul',
      [x, b.initializer('model.layers.0.mlp.up_proj.weight', f32([2, 3], [1, 2, 3, 4, 5, 6]))],
      {},
      { name: '/model/layers.0/mlp/up_proj/MatMul' },
    );
    const branch = (scale: number) => {
      const g = emptyModel(17, 'branch').graph;
      const bb = new GraphBuilder(g);
      bb.op('Mul', [h, bb.scalar(scale)], {}, { output: `out_${scale}` });
      bb.output(`out_${scale}`, 'float32', [1, 3]);
      return g;
    };
    b.op('If', [cond], { then_branch: branch(2), else_branch: branch(3) }, { output: 'y' });
    b.op('Identity', ['y'], {}, { output: 'logits' });
    b.output('logits', 'float32', [1, 3]);
    const sites = findSites(m);
    expect(sites.map((s) => s.name)).toEqual(['model.layers.0.mlp.up_proj']);
    const masked = addSiteMasks(m, sites);
    const out = await runModel(masked.model, {
      x: f32([1, 2], [1, 1]),
      cond: { dtype: 'bool', dims: [], data: new Uint8Array([1]) },
      ...maskFeeds(sites, { 'model.layers.0.mlp.up_proj': new Float32Array([1, 0, 1]) }),
    });
    expect(toNumbers(out.logits!)).toEqual([10, 0, 18]);
  });

  it('rejects bad masks with the site named', () => {
    const sites = findSites(t5LikeModel());
    expect(() => maskFeeds(sites, { nope: new Float32Array(3) })).toThrow(/unknown site 'nope'/);
    expect(() => maskFeeds(sites, { [sites[0]!.name]: new Float32Array(3) })).toThrow(/has 3 values, the site has width 12/);
    expect(() => pruningMasks(sites, [{ site: sites[0]!.name, unit: 12 }])).toThrow(/unit 12 is out of range/);
    expect(() => groupNeurons(sites, [{ site: 'decoder.block.9.layer.0.SelfAttention.q', unit: 0 }])).toThrow(
      /unknown site 'decoder\.block\.9\.layer\.0\.SelfAttention\.q'/,
    );
  });
});
