import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSession, i64, readModel, type ModelSession, type Tensor, type Model } from '../../src/index.js';
import {
  makeT5Folder,
  makeT5Weights,
  relativePositionBucket,
  resolveT5Config,
  resolveT5TokenizerPath,
  t5ParameterCount,
  type T5Folder,
  type T5TinyConfig,
} from '../../src/models/generate/index.js';
import { loadT5Reference, refBucket, refDecode, refEncode, type T5Ref } from '../helpers/t5-reference-f64.js';
import { FLAN_T5_SMALL_SHAPE, T5_BENCH_512, T5_TINY } from '@crispr-bench/testing';

const assetsDir = process.env.CRISPR_ASSETS ?? join(__dirname, '../../../../../shared/assets');
const haveT5Tokenizer = existsSync(join(assetsDir, 'tokenizers/t5/tokenizer.json'));
if (!haveT5Tokenizer) console.warn(`t5-folder: skipping the vocab-32128 model, T5 tokenizer not found under ${assetsDir} (set CRISPR_ASSETS)`);

/** T5 v1.0 style: ReLU FFN, tied head, more decoder than encoder layers, small generated vocabulary. */
const RELU_SMALL: T5TinyConfig = {
  dModel: 24,
  dFf: 40,
  dKv: 6,
  numHeads: 3,
  numLayers: 2,
  numDecoderLayers: 3,
  vocabSize: 300,
  feedForwardProj: 'relu',
  seed: 7,
  tokenizer: 'assets-t5',
};

const f32 = (t: Tensor) => t.data as Float32Array;
const ids2d = (rows: number[][]): Tensor => i64([rows.length, rows[0]!.length], rows.flat());

/** Deterministic pseudo-random token rows (below `vocab`), right-padded with 0 to `len` after `lens[b]`. */
function tokenRows(lens: number[], len: number, vocab: number, salt: number): { ids: number[][]; mask: number[][] } {
  const ids = lens.map((n, b) => Array.from({ length: len }, (_, t) => (t < n ? 3 + ((t * 7919 + b * 104729 + salt * 31) % (vocab - 3)) : 0)));
  const mask = lens.map((n) => Array.from({ length: len }, (_, t) => (t < n ? 1 : 0)));
  return { ids, mask };
}

interface Built {
  folder: T5Folder;
  ref: T5Ref;
  enc: ModelSession;
  dec: ModelSession;
  merged: ModelSession;
  encModel: Model;
  decModel: Model;
}

const root = mkdtempSync(join(tmpdir(), 'crispr-t5-'));
const built: Record<string, Built> = {};

async function build(name: string, cfg: T5TinyConfig): Promise<Built> {
  const folder = makeT5Folder(join(root, name), cfg, { assetsDir });
  const encModel = readModel(join(folder.dir, 'onnx/encoder_model.onnx'));
  const decModel = readModel(join(folder.dir, 'onnx/decoder_model.onnx'));
  const opts = { intraOpThreads: 1 };
  return {
    folder,
    ref: loadT5Reference(folder.dir),
    enc: await createSession(encModel, opts),
    dec: await createSession(decModel, opts),
    merged: await createSession(readModel(join(folder.dir, 'onnx/decoder_model_merged.onnx')), opts),
    encModel,
    decModel,
  };
}

beforeAll(async () => {
  if (haveT5Tokenizer) built.gated = await build('gated', T5_TINY);
  built.relu = await build('relu', RELU_SMALL);
});

afterAll(async () => {
  for (const b of Object.values(built)) for (const s of [b.enc, b.dec, b.merged]) await s.release();
  rmSync(root, { recursive: true, force: true });
});

const variants = [
  { key: 'gated', label: 'gated-gelu, untied head, vocab 32128', skip: !haveT5Tokenizer },
  { key: 'relu', label: 'relu, tied head (d_model^-0.5), 2 enc + 3 dec layers, vocab 300', skip: false },
];

describe('relative position buckets', () => {
  it('match hand-computed T5 buckets', () => {
    // Bidirectional, 32 buckets, max distance 128: 16 per direction, 8 exact.
    const bi = (rel: number) => relativePositionBucket(rel, true, 32, 128);
    expect([0, -1, -7, -8, -16, -32, -127, -128, -1000].map(bi)).toEqual([0, 1, 7, 8, 10, 12, 15, 15, 15]);
    expect([1, 7, 8, 16, 32, 1000].map(bi)).toEqual([17, 23, 24, 26, 28, 31]);
    // Unidirectional (decoder): 32 buckets, 16 exact; keys after the query all map to 0.
    const uni = (rel: number) => relativePositionBucket(rel, false, 32, 128);
    // -20: 16 + floor(ln(20/16) / ln(8) * 16) = 16 + floor(1.717) = 17
    expect([5, 0, -1, -15, -16, -20, -127, -128, -5000].map(uni)).toEqual([0, 0, 1, 15, 16, 17, 31, 31, 31]);
  });

  it('agree with the float64 formula over the whole table range', () => {
    for (const [nb, md] of [
      [32, 128],
      [16, 64],
      [8, 20],
    ] as const) {
      for (const bid of [true, false]) {
        for (let rel = -md - 3; rel <= md + 3; rel++) expect(relativePositionBucket(rel, bid, nb, md)).toBe(refBucket(rel, bid, nb, md));
      }
    }
  });
});

describe('config and weights', () => {
  it('counts Flan-T5-small parameters as published (76,961,152)', () => {
    expect(t5ParameterCount(FLAN_T5_SMALL_SHAPE)).toBe(76_961_152);
    const bench = resolveT5Config(T5_BENCH_512);
    expect([bench.dModel, bench.dFf, bench.numHeads, bench.numLayers, bench.numDecoderLayers, bench.vocabSize]).toEqual([512, 1024, 8, 8, 8, 32128]);
  });

  it('generates exactly the counted parameters, deterministically per seed', () => {
    const count = (cfg: T5TinyConfig) => {
      const r = resolveT5Config(cfg);
      let n = 0;
      for (const [name, t] of makeT5Weights(r)) {
        if (t.dtype !== 'float32' || (r.tieWordEmbeddings && name === 'lm_head.weight')) continue;
        n += t.data.length;
      }
      return n;
    };
    expect(count(T5_TINY)).toBe(t5ParameterCount(T5_TINY));
    expect(count(RELU_SMALL)).toBe(t5ParameterCount(RELU_SMALL));
    const a = makeT5Weights(resolveT5Config(RELU_SMALL)).get('encoder.block.1.layer.1.DenseReluDense.wo.weight')!;
    const b = makeT5Weights(resolveT5Config(RELU_SMALL)).get('encoder.block.1.layer.1.DenseReluDense.wo.weight')!;
    const c = makeT5Weights(resolveT5Config({ ...RELU_SMALL, seed: 8 })).get('encoder.block.1.layer.1.DenseReluDense.wo.weight')!;
    expect(Array.from(f32(a))).toEqual(Array.from(f32(b)));
    expect(Array.from(f32(a))).not.toEqual(Array.from(f32(c)));
  });

  it('rejects bad configs with the field named', () => {
    expect(() => resolveT5Config({ ...RELU_SMALL, dKv: 0 })).toThrow(/'dKv' must be a positive integer/);
    expect(() => resolveT5Config({ ...RELU_SMALL, feedForwardProj: 'gelu' as never })).toThrow(/feedForwardProj/);
    expect(() => resolveT5Config({ ...RELU_SMALL, relativeAttentionNumBuckets: 30 })).toThrow(/multiple of 4/);
    expect(() => makeT5Folder(join(root, 'bad'), { ...T5_TINY, tokenizer: join(root, 'nowhere') })).toThrow(/T5 tokenizer not found: .*nowhere/);
  });

  it.skipIf(!haveT5Tokenizer)('takes the tokenizer from an explicit folder or file path', () => {
    const file = join(assetsDir, 'tokenizers/t5/tokenizer.json');
    expect(resolveT5TokenizerPath(join(assetsDir, 'tokenizers/t5'))).toBe(file);
    expect(resolveT5TokenizerPath(file)).toBe(file);
    expect(resolveT5TokenizerPath('assets-t5', assetsDir)).toBe(file);
  });
});

describe.each(variants)('generated T5 folder ($label)', ({ key, skip }) => {
  const get = () => built[key]!;

  it.skipIf(skip)('writes a Hugging Face T5Config', () => {
    const { folder } = get();
    const c = JSON.parse(readFileSync(join(folder.dir, 'config.json'), 'utf8'));
    const r = folder.config;
    expect(c).toMatchObject({
      model_type: 't5',
      architectures: ['T5ForConditionalGeneration'],
      d_model: r.dModel,
      d_ff: r.dFf,
      d_kv: r.dKv,
      num_heads: r.numHeads,
      num_layers: r.numLayers,
      num_decoder_layers: r.numDecoderLayers,
      vocab_size: r.vocabSize,
      relative_attention_num_buckets: 32,
      relative_attention_max_distance: 128,
      feed_forward_proj: r.feedForwardProj,
      is_gated_act: r.feedForwardProj === 'gated-gelu',
      layer_norm_epsilon: 1e-6,
      decoder_start_token_id: 0,
      pad_token_id: 0,
      eos_token_id: 1,
      tie_word_embeddings: r.feedForwardProj === 'relu',
    });
    expect(folder.tokenizer).toBe(r.vocabSize >= 32100 ? 'asset' : 'generated');
  });

  it.skipIf(skip)('names nodes with the exporter module scopes and weights like the state dict', () => {
    const { encModel, decModel, folder } = get();
    const r = folder.config;
    const gated = r.feedForwardProj === 'gated-gelu';
    const encNodes = new Map(encModel.graph.nodes.map((n) => [n.name, n]));
    const decNodes = new Map(decModel.graph.nodes.map((n) => [n.name, n]));
    const ffn = gated ? ['wi_0', 'wi_1', 'wo'] : ['wi', 'wo'];
    const inner = r.numHeads * r.dKv;
    const expectLinear = (nodes: Map<string, Model['graph']['nodes'][number]>, model: Model, scope: string, weight: string, dims: number[]) => {
      const node = nodes.get(`${scope}/MatMul`);
      expect(node, scope).toBeDefined();
      expect(node!.opType).toBe('MatMul');
      expect(node!.inputs[1]).toBe(weight);
      expect(node!.outputs[0]).toBe(scope === '/lm_head' ? 'logits' : `${scope}/MatMul_output_0`);
      expect(model.graph.initializers.get(weight)!.dims).toEqual(dims);
    };
    for (let i = 0; i < r.numLayers; i++) {
      for (const p of ['q', 'k', 'v'])
        expectLinear(encNodes, encModel, `/encoder/block.${i}/layer.0/SelfAttention/${p}`, `encoder.block.${i}.layer.0.SelfAttention.${p}.weight`, [
          r.dModel,
          inner,
        ]);
      expectLinear(encNodes, encModel, `/encoder/block.${i}/layer.0/SelfAttention/o`, `encoder.block.${i}.layer.0.SelfAttention.o.weight`, [inner, r.dModel]);
      for (const p of ffn) {
        const dims = p === 'wo' ? [r.dFf, r.dModel] : [r.dModel, r.dFf];
        expectLinear(encNodes, encModel, `/encoder/block.${i}/layer.1/DenseReluDense/${p}`, `encoder.block.${i}.layer.1.DenseReluDense.${p}.weight`, dims);
      }
    }
    for (let i = 0; i < r.numDecoderLayers; i++) {
      for (const [layer, mod] of [
        [0, 'SelfAttention'],
        [1, 'EncDecAttention'],
      ] as const) {
        for (const p of ['q', 'k', 'v'])
          expectLinear(decNodes, decModel, `/decoder/block.${i}/layer.${layer}/${mod}/${p}`, `decoder.block.${i}.layer.${layer}.${mod}.${p}.weight`, [
            r.dModel,
            inner,
          ]);
        expectLinear(decNodes, decModel, `/decoder/block.${i}/layer.${layer}/${mod}/o`, `decoder.block.${i}.layer.${layer}.${mod}.o.weight`, [inner, r.dModel]);
      }
      for (const p of ffn) {
        const dims = p === 'wo' ? [r.dFf, r.dModel] : [r.dModel, r.dFf];
        expectLinear(decNodes, decModel, `/decoder/block.${i}/layer.2/DenseReluDense/${p}`, `decoder.block.${i}.layer.2.DenseReluDense.${p}.weight`, dims);
      }
    }
    expectLinear(decNodes, decModel, '/lm_head', 'lm_head.weight', [r.dModel, r.vocabSize]);
    expect(encNodes.get('/encoder/block.0/layer.0/SelfAttention/relative_attention_bias/Gather')!.inputs[0]).toBe(
      'encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight',
    );
    expect(decNodes.has('/decoder/block.1/layer.0/SelfAttention/relative_attention_bias/Gather')).toBe(false);
    expect(decNodes.get('/decoder/final_layer_norm/Mul_1')!.inputs[0]).toBe('decoder.final_layer_norm.weight');
    expect(decNodes.has('/Mul')).toBe(r.tieWordEmbeddings);
    // The exporter's inputs and outputs.
    expect(encModel.graph.inputs.map((v) => [v.name, v.shape])).toEqual([
      ['input_ids', ['batch_size', 'encoder_sequence_length']],
      ['attention_mask', ['batch_size', 'encoder_sequence_length']],
    ]);
    expect(encModel.graph.outputs.map((v) => v.name)).toEqual(['last_hidden_state']);
    expect(decModel.graph.inputs.map((v) => v.name)).toEqual(['encoder_attention_mask', 'input_ids', 'encoder_hidden_states']);
    expect(decModel.graph.outputs.map((v) => v.name)).toEqual(['logits']);
  });

  it.skipIf(skip)('ORT logits match the float64 reference (batch with padding, 40 input tokens)', async () => {
    const { enc, dec, ref, folder } = get();
    const r = folder.config;
    const vocab = Math.min(r.vocabSize, 32100);
    const src = tokenRows([40, 23], 40, vocab, 1);
    const tgt = tokenRows([24, 24], 24, vocab, 2);
    for (const row of tgt.ids) row[0] = 0; // decoder_start_token_id
    const e = await enc.run({ input_ids: ids2d(src.ids), attention_mask: ids2d(src.mask) });
    const hidden = e.last_hidden_state!;
    const d = await dec.run({ input_ids: ids2d(tgt.ids), encoder_attention_mask: ids2d(src.mask), encoder_hidden_states: hidden });
    const logits = d.logits!;
    expect(logits.dims).toEqual([2, 24, r.vocabSize]);
    let maxEnc = 0;
    let maxLogit = 0;
    let scale = 0;
    for (let b = 0; b < 2; b++) {
      const encRef = refEncode(ref, src.ids[b]!, src.mask[b]!);
      const ortEnc = f32(hidden).subarray(b * 40 * r.dModel, (b + 1) * 40 * r.dModel);
      for (let i = 0; i < encRef.length; i++) maxEnc = Math.max(maxEnc, Math.abs(encRef[i]! - ortEnc[i]!));
      const logRef = refDecode(ref, encRef, src.mask[b]!, tgt.ids[b]!);
      const ortLog = f32(logits).subarray(b * 24 * r.vocabSize, (b + 1) * 24 * r.vocabSize);
      for (let i = 0; i < logRef.length; i++) {
        maxLogit = Math.max(maxLogit, Math.abs(logRef[i]! - ortLog[i]!));
        scale = Math.max(scale, Math.abs(logRef[i]!));
      }
    }
    console.log(`t5 ${key}: max |ORT - f64| encoder ${maxEnc.toExponential(2)}, logits ${maxLogit.toExponential(2)} (max |logit| ${scale.toFixed(2)})`);
    expect(scale).toBeGreaterThan(0.5); // logits are O(1), so 1e-4 is a real tolerance
    expect(maxEnc).toBeLessThan(1e-4);
    expect(maxLogit).toBeLessThan(1e-4);
  });

  it.skipIf(skip)('padding does not leak: a padded row equals the same row run alone', async () => {
    const { enc, dec, folder } = get();
    const V = folder.config.vocabSize;
    const src = tokenRows([40, 17], 40, Math.min(V, 32100), 3);
    const dIds = [
      [0, 5, 9, 4],
      [0, 6, 8, 7],
    ];
    const both = await enc.run({ input_ids: ids2d(src.ids), attention_mask: ids2d(src.mask) });
    const lb = await dec.run({ input_ids: ids2d(dIds), encoder_attention_mask: ids2d(src.mask), encoder_hidden_states: both.last_hidden_state! });
    const alone = { ids: [src.ids[1]!.slice(0, 17)], mask: [src.mask[1]!.slice(0, 17)] };
    const one = await enc.run({ input_ids: ids2d(alone.ids), attention_mask: ids2d(alone.mask) });
    const l1 = await dec.run({ input_ids: ids2d([dIds[1]!]), encoder_attention_mask: ids2d(alone.mask), encoder_hidden_states: one.last_hidden_state! });
    const a = f32(lb.logits!).subarray(4 * V, 8 * V);
    const b = f32(l1.logits!);
    let m = 0;
    for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
    expect(m).toBeLessThan(1e-4);
  });

  it.skipIf(skip)('merged decoder: no-cache branch equals decoder_model, cache branch equals the full pass', async () => {
    const { enc, dec, merged, folder } = get();
    const r = folder.config;
    const V = r.vocabSize;
    const src = tokenRows([19, 12], 19, Math.min(V, 32100), 4);
    const tgt = [
      [0, 11, 12, 13, 14, 15, 16],
      [0, 21, 22, 23, 24, 25, 26],
    ];
    const T = tgt[0]!.length;
    const e = await enc.run({ input_ids: ids2d(src.ids), attention_mask: ids2d(src.mask) });
    const base = { encoder_attention_mask: ids2d(src.mask), encoder_hidden_states: e.last_hidden_state! };
    const full = (await dec.run({ ...base, input_ids: ids2d(tgt) })).logits!;

    const emptyPast: Record<string, Tensor> = {};
    for (let i = 0; i < r.numDecoderLayers; i++) {
      for (const side of ['decoder', 'encoder'])
        for (const kv of ['key', 'value'])
          emptyPast[`past_key_values.${i}.${side}.${kv}`] = { dtype: 'float32', dims: [2, r.numHeads, 0, r.dKv], data: new Float32Array(0) };
    }
    const flag = (v: boolean): Tensor => ({ dtype: 'bool', dims: [1], data: new Uint8Array([v ? 1 : 0]) });
    const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

    // No-cache branch over the whole target.
    const nc = await merged.run({ ...base, ...emptyPast, input_ids: ids2d(tgt), use_cache_branch: flag(false) });
    expect(maxDiff(f32(nc.logits!), f32(full))).toBeLessThan(1e-5);
    expect(nc['present.0.decoder.key']!.dims).toEqual([2, r.numHeads, T, r.dKv]);
    expect(nc['present.0.encoder.key']!.dims).toEqual([2, r.numHeads, 19, r.dKv]);

    // Prefix without cache, then one token at a time with the cache.
    const prefix = 3;
    let out = await merged.run({ ...base, ...emptyPast, input_ids: ids2d(tgt.map((row) => row.slice(0, prefix))), use_cache_branch: flag(false) });
    let worst = 0;
    for (let t = prefix; t < T; t++) {
      const past: Record<string, Tensor> = {};
      for (const [k, v] of Object.entries(out)) if (k.startsWith('present.')) past[k.replace('present.', 'past_key_values.')] = v;
      out = await merged.run({ ...base, ...past, input_ids: ids2d(tgt.map((row) => [row[t]!])), use_cache_branch: flag(true) });
      expect(out.logits!.dims).toEqual([2, 1, V]);
      expect(out['present.0.decoder.key']!.dims).toEqual([2, r.numHeads, t + 1, r.dKv]);
      for (let b = 0; b < 2; b++) {
        const want = f32(full).subarray((b * T + t) * V, (b * T + t + 1) * V);
        worst = Math.max(worst, maxDiff(f32(out.logits!).subarray(b * V, (b + 1) * V), want));
      }
    }
    expect(worst).toBeLessThan(1e-4);
  });
});
