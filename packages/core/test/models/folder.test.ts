import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder, emptyModel, f32, i64, runModel, toNumbers, writeModel, type Model, type Tensor } from '../../src/index.js';
import { detectLayout, loadModelFolder, siteView } from '../../src/models/folder.js';
import { releaseScoringSessions, scoreOptions } from '../../src/models/scoring.js';
import { makeT5Folder } from '../../src/models/generate/index.js';
import { pruneFolder } from '../../src/models/prune.js';
import { pruningMasks } from '../../src/models/masks.js';
import { ASSETS, HAVE_T5_TOKENIZER, NO_T5_TOKENIZER, maxAbsDiff, t5Folder, tempDir } from './helpers.js';
import { rand } from './fixtures.js';
import { quantiseLinears, toHalf } from './export-fixtures.js';
import { T5_TINY } from '@crispr-bench/testing';

/**
 * An Optimum-style decoder-only export: inputs input_ids, attention_mask, position_ids and
 * past_key_values.0.key [batch, 2, past, 3]; outputs logits and present.0.key, the past
 * concatenated with the new keys (so an empty past gives the no-cache model).
 */
function optimumStyleDecoder(): Model {
  const r = rand(5);
  const m = emptyModel(17, 'optimum-like');
  const b = new GraphBuilder(m.graph);
  const W = (name: string, dims: number[]) =>
    b.initializer(
      name,
      f32(
        dims,
        Array.from({ length: dims[0]! * dims[1]! }, () => r()),
      ),
    );
  b.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  b.input('attention_mask', 'int64', ['batch_size', 'total_length']);
  b.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  b.input('past_key_values.0.key', 'float32', ['batch_size', 2, 'past_sequence_length', 3]);
  const emb = b.op('Gather', [W('model.embed_tokens.weight', [10, 6]), 'input_ids'], { axis: 0 }, { name: '/model/embed_tokens/Gather' });
  const pos = b.op('Gather', [W('model.embed_positions.weight', [8, 6]), 'position_ids'], { axis: 0 }, { name: '/model/embed_positions/Gather' });
  const x = b.op('Add', [emb, pos]);
  const k = b.op('MatMul', [x, W('model.layers.0.self_attn.k_proj.weight', [6, 6])], {}, { name: '/model/layers.0/self_attn/k_proj/MatMul' });
  const k4 = b.op('Transpose', [b.op('Reshape', [k, b.ints([0, 0, 2, 3])])], { perm: [0, 2, 1, 3] });
  b.op('Concat', ['past_key_values.0.key', k4], { axis: 2 }, { output: 'present.0.key' });
  // A summary of all keys so far feeds every position (cumulative mean stands in for attention).
  const keys = b.op('Reshape', [b.op('Transpose', ['present.0.key'], { perm: [0, 2, 1, 3] }), b.ints([0, 0, 6])]);
  const mixed = b.op('Add', [x, b.op('ReduceMean', [keys], { axes: [1], keepdims: 1 })]);
  const up = b.op('MatMul', [mixed, W('model.layers.0.mlp.up_proj.weight', [6, 5])], {}, { name: '/model/layers.0/mlp/up_proj/MatMul' });
  b.op('MatMul', [b.op('Tanh', [up]), W('lm_head.weight', [5, 10])], {}, { name: '/lm_head/MatMul', output: 'logits' });
  b.output('logits', 'float32', ['batch_size', 'sequence_length', 10]);
  b.output('present.0.key', 'float32', ['batch_size', 2, 'total_length', 3]);
  return m;
}

describe('model folder layouts', () => {
  const tmp = tempDir('folder');
  afterAll(() => tmp.cleanup());

  it('says what it found and what it expected', () => {
    const empty = join(tmp.dir, 'empty');
    mkdirSync(empty);
    expect(() => detectLayout(empty)).toThrow(
      /config\.json is missing[\s\S]*found: nothing[\s\S]*expected: config\.json and tokenizer\.json[\s\S]*onnx\/encoder_model\.onnx and onnx\/decoder_model\.onnx[\s\S]*onnx\/model\.onnx/,
    );
    const half = join(tmp.dir, 'half');
    mkdirSync(join(half, 'onnx'), { recursive: true });
    writeFileSync(join(half, 'config.json'), '{"is_encoder_decoder": true}');
    writeFileSync(join(half, 'onnx/encoder_model.onnx'), '');
    writeFileSync(join(half, 'onnx/decoder_model_quantized.onnx'), '');
    expect(() => detectLayout(half)).toThrow(
      /encoder_model\.onnx has no decoder next to it[\s\S]*found: config\.json, onnx; onnx\/: decoder_model_quantized\.onnx, encoder_model\.onnx/,
    );
    expect(() => detectLayout(join(tmp.dir, 'nope'))).toThrow(/model folder does not exist/);
  });

  it('removes past inputs and position_ids of a decoder-only export without changing its logits', async () => {
    const model = optimumStyleDecoder();
    const view = await siteView(model);
    expect(view.graph.inputs.map((i) => i.name)).toEqual(['input_ids', 'attention_mask']);
    expect(view.graph.outputs.map((o) => o.name)).toEqual(['logits']);
    const ids = [3, 1, 4, 1, 5, 9, 2, 6];
    const mask = [1, 1, 1, 1, 1, 1, 0, 0];
    const feeds: Record<string, Tensor> = { input_ids: i64([2, 4], ids), attention_mask: i64([2, 4], mask) };
    const direct = await runModel(model, {
      ...feeds,
      // cumsum(mask) - 1, floored at 0: the rule the view derives in the graph.
      position_ids: i64([2, 4], [0, 1, 2, 3, 0, 1, 1, 1]),
      'past_key_values.0.key': f32([2, 2, 0, 3], []),
    });
    const viaView = await runModel(view, feeds);
    expect(maxAbsDiff(toNumbers(viaView.logits!), toNumbers(direct.logits!))).toBeLessThan(1e-6);

    // As a folder: loads without a tokenizer for graph-only use, with the two sites.
    const dir = join(tmp.dir, 'optimum-like');
    writeModel(model, join(dir, 'onnx/model.onnx'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', vocab_size: 10, pad_token_id: 0 }));
    const folder = await loadModelFolder(dir, { tokenizer: false });
    expect(folder.kind).toBe('decoder-only');
    expect(folder.sites.map((s) => `${s.name}:${s.kind}:${s.width}`)).toEqual([
      'model.layers.0.self_attn.k_proj:attn_k:6',
      'model.layers.0.mlp.up_proj:ffn_up:5',
    ]);
    await expect(loadModelFolder(dir)).rejects.toThrow(/tokenizer\.json is missing/);
  });

  it('decoder-only variants: model.onnx by default, --variant fp16 widened to float32, a quantised model.onnx refused', async () => {
    const model = optimumStyleDecoder();
    const dir = join(tmp.dir, 'decoder-variants');
    writeModel(model, join(dir, 'onnx/model.onnx'));
    writeModel(toHalf(model), join(dir, 'onnx/model_fp16.onnx'));
    writeModel(quantiseLinears(model), join(dir, 'onnx/model_quantized.onnx'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', vocab_size: 10, pad_token_id: 0 }));
    const layout = detectLayout(dir);
    expect([layout.kind, layout.decoder, layout.variants]).toEqual(['decoder-only', 'onnx/model.onnx', ['fp32', 'fp16', 'quantized']]);
    const half = await loadModelFolder(dir, { tokenizer: false, variant: 'fp16' });
    expect(half.files).toEqual(['onnx/model_fp16.onnx']);
    expect(half.graph.graph.outputs[0]!.dtype).toBe('float32');
    expect(half.sites.map((s) => s.name)).toEqual(['model.layers.0.self_attn.k_proj', 'model.layers.0.mlp.up_proj']);
    // Same logits as the fp32 graph up to the weights' half rounding.
    const feeds = { input_ids: i64([1, 4], [3, 1, 4, 1]), attention_mask: i64([1, 4], [1, 1, 1, 1]) };
    const full = await loadModelFolder(dir, { tokenizer: false });
    const a = toNumbers((await runModel(half.graph, feeds)).logits!);
    const b = toNumbers((await runModel(full.graph, feeds)).logits!);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-2);
    await expect(loadModelFolder(dir, { tokenizer: false, variant: 'quantized' })).rejects.toThrow(
      /onnx\/model_quantized\.onnx: node '[^']+' is DynamicQuantizeLinear.*use the fp32 file onnx\/model\.onnx/,
    );
  });
});

describe.skipIf(!HAVE_T5_TOKENIZER)(`T5-style folders (${HAVE_T5_TOKENIZER ? 'present' : NO_T5_TOKENIZER})`, () => {
  const tmp = tempDir('folder-t5');
  let plainDir: string;
  let mergedDir: string;
  beforeAll(() => {
    plainDir = t5Folder(tmp.dir, 'plain', 'plain');
    mergedDir = t5Folder(tmp.dir, 'merged', 'merged');
  });
  afterAll(async () => {
    await releaseScoringSessions();
    tmp.cleanup();
  });

  it('lists q, k, v, o, cross-attention and FFN sites with the right widths and sides', async () => {
    const f = await loadModelFolder(plainDir);
    expect(f.graph.graph.inputs.map((i) => i.name)).toEqual(['input_ids', 'attention_mask', 'decoder_input_ids']);
    const inner = T5_TINY.numHeads * T5_TINY.dKv;
    const enc = (l: number) => [
      [`encoder.block.${l}.layer.0.SelfAttention.q`, 'attn_q', inner, 'input'],
      [`encoder.block.${l}.layer.0.SelfAttention.k`, 'attn_k', inner, 'input'],
      [`encoder.block.${l}.layer.0.SelfAttention.v`, 'attn_v', inner, 'input'],
      [`encoder.block.${l}.layer.0.SelfAttention.o`, 'attn_o', T5_TINY.dModel, 'input'],
      [`encoder.block.${l}.layer.1.DenseReluDense.wi_0`, 'ffn_gate', T5_TINY.dFf, 'input'],
      [`encoder.block.${l}.layer.1.DenseReluDense.wi_1`, 'ffn_up', T5_TINY.dFf, 'input'],
      [`encoder.block.${l}.layer.1.DenseReluDense.wo`, 'ffn_down', T5_TINY.dModel, 'input'],
    ];
    const dec = (l: number) => [
      [`decoder.block.${l}.layer.0.SelfAttention.q`, 'attn_q', inner, 'target'],
      [`decoder.block.${l}.layer.0.SelfAttention.k`, 'attn_k', inner, 'target'],
      [`decoder.block.${l}.layer.0.SelfAttention.v`, 'attn_v', inner, 'target'],
      [`decoder.block.${l}.layer.0.SelfAttention.o`, 'attn_o', T5_TINY.dModel, 'target'],
      [`decoder.block.${l}.layer.1.EncDecAttention.q`, 'cross_q', inner, 'target'],
      [`decoder.block.${l}.layer.1.EncDecAttention.k`, 'cross_k', inner, 'input'],
      [`decoder.block.${l}.layer.1.EncDecAttention.v`, 'cross_v', inner, 'input'],
      [`decoder.block.${l}.layer.1.EncDecAttention.o`, 'cross_o', T5_TINY.dModel, 'target'],
      [`decoder.block.${l}.layer.2.DenseReluDense.wi_0`, 'ffn_gate', T5_TINY.dFf, 'target'],
      [`decoder.block.${l}.layer.2.DenseReluDense.wi_1`, 'ffn_up', T5_TINY.dFf, 'target'],
      [`decoder.block.${l}.layer.2.DenseReluDense.wo`, 'ffn_down', T5_TINY.dModel, 'target'],
    ];
    expect(f.sites.map((s) => [s.name, s.kind, s.width, s.side])).toEqual([...enc(0), ...enc(1), ...dec(0), ...dec(1)]);
  });

  it('reads the merged decoder (cache branch removed) to the same graph results as the plain decoder', async () => {
    const plain = await loadModelFolder(plainDir);
    const merged = await loadModelFolder(mergedDir);
    expect(merged.files).toEqual(['onnx/encoder_model.onnx', 'onnx/decoder_model_merged.onnx']);
    expect(merged.graph.graph.inputs.map((i) => i.name)).toEqual(['input_ids', 'attention_mask', 'decoder_input_ids']);
    expect(merged.graph.graph.nodes.some((n) => n.opType === 'If')).toBe(false);
    expect(merged.sites.map((s) => [s.name, s.width, s.side])).toEqual(plain.sites.map((s) => [s.name, s.width, s.side]));
    const items = [{ prompt: 'Where is the cat?', candidates: ['on the mat', 'nowhere'] }];
    const a = await scoreOptions(plain, items);
    const b = await scoreOptions(merged, items);
    expect(
      maxAbsDiff(
        a[0]!.flatMap((x) => x.tokenLogprobs),
        b[0]!.flatMap((x) => x.tokenLogprobs),
      ),
    ).toBeLessThan(1e-5);
  });

  it('loads external-data ONNX files and keeps that layout when pruning', async () => {
    const dir = join(tmp.dir, 'external');
    makeT5Folder(dir, T5_TINY, { assetsDir: ASSETS, mergedDecoder: false, externalData: true });
    const dataFiles = readdirSync(join(dir, 'onnx')).filter((f) => !f.endsWith('.onnx'));
    expect(dataFiles.length).toBe(2);
    const ext = await loadModelFolder(dir);
    const plain = await loadModelFolder(plainDir);
    const items = [{ prompt: 'Where is the cat?', candidates: ['on the mat'] }];
    const a = await scoreOptions(ext, items);
    expect(a[0]![0]!.tokenLogprobs).toEqual((await scoreOptions(plain, items))[0]![0]!.tokenLogprobs);
    const neurons = [{ site: 'decoder.block.1.layer.2.DenseReluDense.wi_1', unit: 9 }];
    const out = join(tmp.dir, 'external-pruned');
    await pruneFolder(dir, neurons, undefined, out);
    for (const f of dataFiles) expect(existsSync(join(out, 'onnx', f)), f).toBe(true);
    const pruned = await scoreOptions(await loadModelFolder(out), items);
    const masked = await scoreOptions(ext, items, { masks: pruningMasks(ext.sites, neurons) });
    expect(maxAbsDiff(pruned[0]![0]!.tokenLogprobs, masked[0]![0]!.tokenLogprobs)).toBeLessThan(1e-5);
    expect(maxAbsDiff(pruned[0]![0]!.tokenLogprobs, a[0]![0]!.tokenLogprobs)).toBeGreaterThan(0);
  });
});

describe.skipIf(!HAVE_T5_TOKENIZER)(`a model and tokenizer that disagree (${NO_T5_TOKENIZER})`, () => {
  const tmp = tempDir('folder-mismatch');
  afterAll(() => tmp.cleanup());

  it('refuses a tokenizer that produces ids past the model vocabulary, naming both sides', async () => {
    // A T5 folder with a vocabulary of 300 entries, given the real 32,100-token T5 tokenizer.
    const dir = join(tmp.dir, 'small-vocab');
    makeT5Folder(dir, { ...T5_TINY, vocabSize: 300 }, { assetsDir: ASSETS });
    const { copyFileSync } = await import('node:fs');
    copyFileSync(join(ASSETS, 'tokenizers/t5/tokenizer.json'), join(dir, 'tokenizer.json'));
    await expect(loadModelFolder(dir)).rejects.toThrow(
      /tokenizer and the model disagree: tokenizer\.json produces ids up to 32099, but the model has 300 vocabulary entries/,
    );
    // Graph-only tools (crispr sites) do not need the tokenizer and still load it.
    expect((await loadModelFolder(dir, { tokenizer: false })).sites.length).toBeGreaterThan(0);
  });
});
