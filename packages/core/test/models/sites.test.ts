import { describe, expect, it } from 'vitest';
import { findSites, inspectSites, classifySiteName, scopeName, SiteDetectionError, countNeurons } from '../../src/models/sites.js';
import { t5LikeModel, gpt2LikeModel, llamaNoScopeModel, T5_DIMS, GPT2_DIMS } from './fixtures.js';

describe('findSites', () => {
  it('lists every T5 linear layer but the LM head, with kinds, sides, widths and layers', () => {
    const sites = findSites(t5LikeModel());
    const { D, inner, F } = T5_DIMS;
    const rows = sites.map((s) => [s.name, s.kind, s.side, s.width, s.layer, s.stack]);
    expect(rows).toEqual([
      ['encoder.block.0.layer.0.SelfAttention.q', 'attn_q', 'input', inner, 0, 'encoder'],
      ['encoder.block.0.layer.0.SelfAttention.k', 'attn_k', 'input', inner, 0, 'encoder'],
      ['encoder.block.0.layer.0.SelfAttention.v', 'attn_v', 'input', inner, 0, 'encoder'],
      ['encoder.block.0.layer.0.SelfAttention.o', 'attn_o', 'input', D, 0, 'encoder'],
      ['encoder.block.0.layer.1.DenseReluDense.wi', 'ffn_in', 'input', F, 0, 'encoder'],
      ['encoder.block.0.layer.1.DenseReluDense.wo', 'ffn_down', 'input', D, 0, 'encoder'],
      ['decoder.block.0.layer.0.SelfAttention.q', 'attn_q', 'target', inner, 0, 'decoder'],
      ['decoder.block.0.layer.0.SelfAttention.k', 'attn_k', 'target', inner, 0, 'decoder'],
      ['decoder.block.0.layer.0.SelfAttention.v', 'attn_v', 'target', inner, 0, 'decoder'],
      ['decoder.block.0.layer.0.SelfAttention.o', 'attn_o', 'target', D, 0, 'decoder'],
      ['decoder.block.0.layer.1.EncDecAttention.q', 'cross_q', 'target', inner, 0, 'decoder'],
      ['decoder.block.0.layer.1.EncDecAttention.k', 'cross_k', 'input', inner, 0, 'decoder'],
      ['decoder.block.0.layer.1.EncDecAttention.v', 'cross_v', 'input', inner, 0, 'decoder'],
      ['decoder.block.0.layer.1.EncDecAttention.o', 'cross_o', 'target', D, 0, 'decoder'],
      ['decoder.block.0.layer.2.DenseReluDense.wi_0', 'ffn_gate', 'target', F, 0, 'decoder'],
      ['decoder.block.0.layer.2.DenseReluDense.wi_1', 'ffn_up', 'target', F, 0, 'decoder'],
      ['decoder.block.0.layer.2.DenseReluDense.wo', 'ffn_down', 'target', D, 0, 'decoder'],
    ]);
    // Weights are exporter-named initializers, used directly: [in, out], units on axis 1.
    for (const s of sites) {
      expect(s.weight).toMatch(/^onnx::MatMul/);
      expect(s.weightUnitAxis).toBe(1);
      expect(s.bias).toBeUndefined();
      expect(s.output).toBe(t5LikeModel().graph.nodes.find((n) => n.name === s.matmul)!.outputs[0]);
    }
    // q, k, v of three attention blocks; five D-wide outputs (three o, two wo); wi, wi_0, wi_1.
    expect(countNeurons(sites)).toBe(9 * inner + 5 * D + 3 * F);
  });

  it('recognises GPT-2 fused c_attn, biases (either operand order), Gemm transB and Transpose weights', () => {
    const { D, F } = GPT2_DIMS;
    const sites = findSites(gpt2LikeModel());
    expect(sites.map((s) => [s.name, s.kind, s.width, s.weightUnitAxis, s.bias ?? null, s.side])).toEqual([
      ['transformer.h.0.attn.c_attn', 'attn_qkv', 3 * D, 1, 'transformer.h.0.attn.c_attn.bias', 'target'],
      ['transformer.h.0.attn.c_proj', 'attn_o', D, 0, null, 'target'],
      ['transformer.h.0.mlp.c_fc', 'ffn_in', F, 0, 'transformer.h.0.mlp.c_fc.bias', 'target'],
      ['transformer.h.0.mlp.c_proj', 'ffn_down', D, 1, 'transformer.h.0.mlp.c_proj.bias', 'target'],
    ]);
    // With a bias, the site output is the Add's output, not the MatMul's.
    const cAttn = sites[0]!;
    const model = gpt2LikeModel();
    expect(model.graph.nodes.find((n) => n.outputs[0] === cAttn.output)!.opType).toBe('Add');
    expect(sites[1]!.weight).toBe('transformer.h.0.attn.c_proj.weight_t');
  });

  it('falls back to Hugging Face weight names when nodes carry no scope', () => {
    const sites = findSites(llamaNoScopeModel());
    expect(sites.map((s) => [s.name, s.kind, s.width, s.layer])).toEqual([
      ['model.layers.0.self_attn.q_proj', 'attn_q', 4, 0],
      ['model.layers.0.self_attn.k_proj', 'attn_k', 2, 0],
      ['model.layers.0.self_attn.v_proj', 'attn_v', 2, 0],
      ['model.layers.0.self_attn.o_proj', 'attn_o', 4, 0],
      ['model.layers.0.mlp.gate_proj', 'ffn_gate', 6, 0],
      ['model.layers.0.mlp.up_proj', 'ffn_up', 6, 0],
      ['model.layers.0.mlp.down_proj', 'ffn_down', 4, 0],
    ]);
  });

  it('lists unrecognised linear layers in strict mode and skips them otherwise', () => {
    const model = llamaNoScopeModel(3, true);
    let err: unknown;
    try {
      findSites(model);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SiteDetectionError);
    expect((err as Error).message).toMatch(/MatMul_mystery \(weight onnx::MatMul_77 \[4\]\)/);
    expect((err as SiteDetectionError).unrecognised).toHaveLength(1);
    expect(findSites(model, { strict: false })).toHaveLength(7);
  });

  it('names unnamed linear layers of a decoder-only file from the structure and config.json, and refuses a config that disagrees', () => {
    // Strip the Hugging Face weight names: every weight becomes an exporter name.
    const exporterNamed = () => {
      const m = llamaNoScopeModel();
      const rename = new Map([...m.graph.initializers.keys()].map((k, i) => [k, k.startsWith('lm_head') ? k : `onnx::MatMul_${100 + i}`] as const));
      m.graph.initializers = new Map([...m.graph.initializers].map(([k, t]) => [rename.get(k)!, t] as const));
      for (const n of m.graph.nodes) n.inputs = n.inputs.map((x) => rename.get(x) ?? x);
      return { m, rename };
    };
    const { m: model } = exporterNamed();
    const config = { model_type: 'llama', hidden_size: 4, num_attention_heads: 2, num_key_value_heads: 1, num_hidden_layers: 1, intermediate_size: 6 };
    expect(() => findSites(model, { role: 'decoder-only' })).toThrow(SiteDetectionError);
    const insp = inspectSites(model, { role: 'decoder-only', config });
    expect(insp.unrecognised).toEqual([]);
    expect(insp.sites.map((s) => [s.name, s.kind, s.width])).toEqual([
      ['model.layers.0.self_attn.q_proj', 'attn_q', 4],
      ['model.layers.0.self_attn.k_proj', 'attn_k', 2],
      ['model.layers.0.self_attn.v_proj', 'attn_v', 2],
      ['model.layers.0.self_attn.o_proj', 'attn_o', 4],
      ['model.layers.0.mlp.gate_proj', 'ffn_gate', 6],
      ['model.layers.0.mlp.up_proj', 'ffn_up', 6],
      ['model.layers.0.mlp.down_proj', 'ffn_down', 4],
    ]);
    expect(insp.recovered).toHaveLength(7);
    // Same count and widths, but gate and up no longer read one tensor: no guess.
    const { m: bent, rename: rn } = exporterNamed();
    const up = bent.graph.nodes.find((n) => n.inputs[1] === rn.get('model.layers.0.mlp.up_proj.weight'))!;
    up.inputs[0] = 'x';
    const failed = inspectSites(bent, { role: 'decoder-only', config });
    expect(failed.sites).toEqual([]);
    expect(failed.recoveryFailure).toMatch(/model\.layers\.0\.mlp\.up_proj should read the same tensor as the other linears of model\.layers\.0\.mlp/);
    expect(inspectSites(model, { role: 'decoder-only', config: { ...config, intermediate_size: 8 } }).recoveryFailure).toMatch(
      /width 6 where config\.json \(model_type llama\) expects model\.layers\.0\.mlp\.gate_proj of width 8/,
    );
  });

  it('filters by kind', () => {
    const sites = findSites(t5LikeModel(), { kinds: ['cross_k', 'cross_v'] });
    expect(sites.map((s) => s.name)).toEqual(['decoder.block.0.layer.1.EncDecAttention.k', 'decoder.block.0.layer.1.EncDecAttention.v']);
  });
});

describe('site names', () => {
  it('turns node scopes into dotted module names', () => {
    expect(scopeName('/encoder/block.0/layer.0/SelfAttention/q/MatMul')).toBe('encoder.block.0.layer.0.SelfAttention.q');
    expect(scopeName('/model/layers.3/mlp/down_proj/MatMul_1')).toBe('model.layers.3.mlp.down_proj');
    expect(scopeName('MatMul_12')).toBeNull();
  });

  it('classifies other exporters’ module names', () => {
    expect(classifySiteName('model.decoder.layers.2.encoder_attn.v_proj', true)).toEqual({ kind: 'cross_v', layer: 2, stack: 'decoder' });
    expect(classifySiteName('model.encoder.layers.1.fc1', true)).toEqual({ kind: 'ffn_in', layer: 1, stack: 'encoder' });
    expect(classifySiteName('model.encoder.layers.1.self_attn.out_proj', true)).toEqual({ kind: 'attn_o', layer: 1, stack: 'encoder' });
    expect(classifySiteName('gpt_neox.layers.4.mlp.dense_4h_to_h', false)).toEqual({ kind: 'ffn_down', layer: 4, stack: 'decoder' });
    expect(classifySiteName('model.layers.0.something.odd', false)).toBeNull();
    expect(classifySiteName('lm_head', false)).toBeNull();
  });
});
