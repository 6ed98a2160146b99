import { describe, expect, it } from 'vitest';
import { i64, inlineConstantIfs, mergeGraphs, probeShapes, specialize, tensor, topologicalSort, type Tensor } from '../../src/index.js';
import { buildT5Encoder, buildT5MergedDecoder, makeT5Weights, resolveT5Config } from '../../src/models/generate/index.js';
import { plain, run } from './helpers.js';
import { T5_TINY } from '@crispr-bench/testing';

/**
 * The attribution pipeline on a T5 in Optimum's layout (encoder_model + decoder_model_merged as
 * the tiny-model builders emit them): merge, take the no-cache branch, specialise to one bucket.
 */
describe('T5 encoder + merged decoder through merge, If inlining and specialisation', () => {
  it('computes the logits of running encoder and decoder one after another', async () => {
    const r = resolveT5Config({ ...T5_TINY, numLayers: 1, numDecoderLayers: 1 });
    const w = makeT5Weights(r);
    const enc = buildT5Encoder(r, w);
    const dec = buildT5MergedDecoder(r, w);
    const encOut = enc.graph.outputs[0]!.name;
    const merged = mergeGraphs(enc, dec, { connect: { encoder_hidden_states: encOut }, shareInputs: { encoder_attention_mask: 'attention_mask' } });
    const flat = inlineConstantIfs(merged, { use_cache_branch: false });
    expect(flat.graph.inputs.map((v) => v.name)).toEqual(['input_ids', 'attention_mask', 'decoder/input_ids']);
    expect(flat.graph.nodes.some((n) => n.opType === 'If')).toBe(false);
    topologicalSort(flat.graph);

    const B = 2;
    const S = 5;
    const T = 3;
    const { model, shapes } = await specialize(flat, { input_ids: [B, S], attention_mask: [B, S], 'decoder/input_ids': [B, T] }, probeShapes);
    expect(model.graph.nodes.filter((n) => n.opType === 'Shape' || n.opType === 'Range' || n.opType === 'ConstantOfShape')).toEqual([]);
    expect(shapes.get('logits')!.dims).toEqual([B, T, r.vocabSize]);

    const ids = i64([B, S], [13, 7, 99, 1, 0, 4, 5, 6, 1, 0]);
    const mask = i64([B, S], [1, 1, 1, 1, 0, 1, 1, 1, 1, 0]);
    const decIds = i64([B, T], [0, 42, 17, 0, 8, 9]);
    const got = await run(model, { input_ids: ids, attention_mask: mask, 'decoder/input_ids': decIds });

    const e = await run(enc, { input_ids: ids, attention_mask: mask });
    const pastFeeds: Record<string, Tensor> = {};
    for (const inp of dec.graph.inputs) if (inp.name.startsWith('past_key_values')) pastFeeds[inp.name] = tensor('float32', [B, r.numHeads, 0, r.dKv]);
    const ref = await run(dec, {
      input_ids: decIds,
      encoder_attention_mask: mask,
      encoder_hidden_states: e[encOut]!,
      use_cache_branch: tensor('bool', [1], [0]),
      ...pastFeeds,
    });
    expect(got.logits!.dims).toEqual([B, T, r.vocabSize]);
    expect(plain(got.logits!)).toEqual(plain(ref.logits!));
  });
});
