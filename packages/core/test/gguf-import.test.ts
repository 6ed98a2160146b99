/**
 * `crispr import gguf` on the real stories260K model: the imported ONNX graph against an
 * independent float64 forward pass, the golden greedy text, the he/she probe, and loading by
 * @huggingface/transformers. Plus a synthetic float16, non-grouped Llama GGUF built here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AutoModelForCausalLM, AutoTokenizer, env } from '@huggingface/transformers';
import { readModel } from '../src/onnx/io.js';
import { i64, toNumbers } from '../src/onnx/tensor.js';
import { createSession, type ModelSession } from '../src/runtime/session.js';
import { UserError, type CliIO } from '../src/types/cli.js';
import { readGguf, tensorData, GgufValueType } from '../src/gguf/reader.js';
import { spmBpeEncode, spmDecode, spmVocabFromGguf, type SpmVocab } from '../src/gguf/tokenizer.js';
import { importGguf, type ImportGgufSummary } from '../src/gguf/index.js';
import { importCommand } from '../src/cli/index.js';
import { argmax, loadReferenceModel, logSoftmax, referenceGreedy, referenceLogits, type RefModel } from './helpers/llama-reference-f64.js';
import { V, writeGgufBytes, f32Bytes, u16Bytes, type WTensor } from './helpers/gguf-writer.js';

process.env.ORT_DISABLE_TELEMETRY = '1';
const ASSETS = process.env.CRISPR_ASSETS ?? resolve(__dirname, '../../../../shared/assets');
const STORIES = join(ASSETS, 'models/stories260K/stories260K.gguf');
const GOLDEN =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.';

/** Logits [batch][seq][vocab] from an ORT session. */
async function ortLogits(s: ModelSession, rows: number[][], masks: number[][]): Promise<number[][][]> {
  const B = rows.length;
  const S = rows[0]!.length;
  const out = await s.run({ input_ids: i64([B, S], rows.flat()), attention_mask: i64([B, S], masks.flat()) });
  const t = out.logits!;
  const Vn = t.dims[2]!;
  const flat = toNumbers(t);
  return Array.from({ length: B }, (_, b) => Array.from({ length: S }, (_, p) => flat.slice((b * S + p) * Vn, (b * S + p + 1) * Vn)));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const captureIO = () => {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (l) => out.push(l), err: (l) => err.push(l) };
  return { io, out, err };
};

describe.skipIf(!existsSync(STORIES))(`import gguf: stories260K (needs ${STORIES})`, () => {
  let dir: string;
  let folder: string;
  let summary: ImportGgufSummary;
  let session: ModelSession;
  let ref: RefModel;
  let vocab: SpmVocab;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'crispr-gguf-import-'));
    folder = join(dir, 'stories260K');
    const gguf = readGguf(STORIES);
    summary = importGguf(gguf, folder);
    session = await createSession(new Uint8Array(readFileSync(join(folder, 'onnx/model.onnx'))), { intraOpThreads: 1 });
    ref = loadReferenceModel(gguf);
    vocab = spmVocabFromGguf(gguf);
  });
  afterAll(async () => {
    await session?.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the folder with a Hugging Face LlamaConfig', () => {
    for (const f of [
      'onnx/model.onnx',
      'onnx/decoder_with_past_model.onnx',
      'config.json',
      'generation_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ]) {
      expect(existsSync(join(folder, f)), f).toBe(true);
    }
    expect(summary.tensorCount).toBe(48);
    expect(summary.tensorTypes).toEqual({ F32: 48 });
    // embeddings + output (2 x 512 x 64), final norm, and per layer: q, o (64x64), k, v (32x64), two norms, three FFN (172x64).
    expect(summary.parameterCount).toBe(2 * 512 * 64 + 64 + 5 * (2 * 64 * 64 + 2 * 32 * 64 + 2 * 64 + 3 * 172 * 64));
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      hidden_size: 64,
      intermediate_size: 172,
      num_attention_heads: 8,
      num_key_value_heads: 4,
      num_hidden_layers: 5,
      head_dim: 8,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      vocab_size: 512,
      max_position_embeddings: 2048,
      bos_token_id: 1,
      eos_token_id: 2,
      tie_word_embeddings: false,
    });
    const gen = JSON.parse(readFileSync(join(folder, 'generation_config.json'), 'utf8'));
    expect(gen).toMatchObject({ bos_token_id: 1, eos_token_id: 2 });
  });

  it('builds the graph from standard ONNX ops with Hugging Face scope names', () => {
    const m = readModel(join(folder, 'onnx/model.onnx'));
    expect(m.opsetImports).toEqual([{ domain: '', version: 17 }]);
    expect(m.graph.nodes.every((n) => n.domain === '')).toBe(true);
    expect(m.graph.inputs.map((v) => [v.name, v.dtype, v.shape])).toEqual([
      ['input_ids', 'int64', ['batch_size', 'sequence_length']],
      ['attention_mask', 'int64', ['batch_size', 'sequence_length']],
    ]);
    expect(m.graph.outputs.map((v) => [v.name, v.dtype, v.shape])).toEqual([['logits', 'float32', ['batch_size', 'sequence_length', 512]]]);
    const byName = new Map(m.graph.nodes.map((n) => [n.name, n]));
    const linears: [string, number, number][] = [];
    for (let l = 0; l < 5; l++) {
      linears.push(
        [`model.layers.${l}.self_attn.q_proj`, 64, 64],
        [`model.layers.${l}.self_attn.k_proj`, 64, 32],
        [`model.layers.${l}.self_attn.v_proj`, 64, 32],
        [`model.layers.${l}.self_attn.o_proj`, 64, 64],
        [`model.layers.${l}.mlp.gate_proj`, 64, 172],
        [`model.layers.${l}.mlp.up_proj`, 64, 172],
        [`model.layers.${l}.mlp.down_proj`, 172, 64],
      );
    }
    linears.push(['lm_head', 64, 512]);
    for (const [scope, inn, out] of linears) {
      const node = byName.get(`/${scope.replaceAll('.', '/').replace(/layers\/(\d+)/, 'layers.$1')}/MatMul`);
      expect(node, scope).toBeDefined();
      expect(node!.opType).toBe('MatMul');
      expect(node!.inputs[1]).toBe(`${scope}.weight`);
      expect(m.graph.initializers.get(`${scope}.weight`)!.dims).toEqual([inn, out]);
    }
    expect(byName.get('/model/embed_tokens/Gather')!.inputs[0]).toBe('model.embed_tokens.weight');
    expect(m.graph.initializers.get('model.norm.weight')!.dims).toEqual([64]);
    expect(m.graph.initializers.get('model.layers.4.post_attention_layernorm.weight')!.dims).toEqual([64]);
    // No constant MatMul other than the linear layers (rotary embeddings use Slice/Neg/Concat).
    const matmulsWithWeights = m.graph.nodes.filter((n) => n.opType === 'MatMul' && m.graph.initializers.has(n.inputs[1]!));
    expect(matmulsWithWeights).toHaveLength(linears.length);
  });

  it('stores q/k in Hugging Face rotate-half row order: HF row p*4+j of a head is GGUF row 2j+p', () => {
    const m = readModel(join(folder, 'onnx/model.onnx'));
    const gguf = readGguf(STORIES);
    for (const [name, heads, ggufName] of [
      ['q_proj', 8, 'attn_q'],
      ['k_proj', 4, 'attn_k'],
    ] as const) {
      const w = toNumbers(m.graph.initializers.get(`model.layers.2.self_attn.${name}.weight`)!); // [in=64, out]
      const g = tensorData(gguf, `blk.2.${ggufName}.weight`); // [out, in=64]
      const out = heads * 8;
      for (const [h, j, p, c] of [
        [0, 0, 1, 5],
        [heads - 1, 3, 0, 63],
        [1, 2, 1, 0],
      ]) {
        expect(w[c! * out + h! * 8 + p! * 4 + j!]).toBe(g[(h! * 8 + 2 * j! + p!) * 64 + c!]);
      }
    }
    const v = toNumbers(m.graph.initializers.get('model.layers.2.self_attn.v_proj.weight')!);
    const gv = tensorData(gguf, 'blk.2.attn_v.weight');
    expect(v[7 * 32 + 5]).toBe(gv[5 * 64 + 7]); // plain transpose
  });

  it('float64 reference: greedy decoding from BOS reproduces the golden text', () => {
    const golden = spmBpeEncode(vocab, GOLDEN, { addBos: false });
    const ids = referenceGreedy(ref, [1], golden.length);
    expect(ids).toEqual(golden);
    expect(spmDecode(vocab, ids)).toBe(GOLDEN);
  });

  it('ORT logits equal the float64 reference within 1e-4, including left- and right-padded batches', async () => {
    const a = spmBpeEncode(vocab, 'The pilot was tired, so');
    const b = spmBpeEncode(vocab, 'Once upon a time');
    const refA = referenceLogits(ref, a);
    const refB = referenceLogits(ref, b);
    let worst = 0;
    const check = (got: number[], want: Float64Array) => (worst = Math.max(worst, maxAbsDiff(got, want)));

    const [single] = await ortLogits(session, [a], [a.map(() => 1)]);
    a.forEach((_, p) => check(single![p]!, refA[p]!));

    const pad = a.length - b.length;
    const left = await ortLogits(session, [a, [...Array(pad).fill(0), ...b]], [a.map(() => 1), [...Array(pad).fill(0), ...b.map(() => 1)]]);
    a.forEach((_, p) => check(left[0]![p]!, refA[p]!));
    b.forEach((_, p) => check(left[1]![pad + p]!, refB[p]!));

    const right = await ortLogits(session, [[...b, ...Array(pad).fill(2)], a], [[...b.map(() => 1), ...Array(pad).fill(0)], a.map(() => 1)]);
    b.forEach((_, p) => check(right[0]![p]!, refB[p]!));
    a.forEach((_, p) => check(right[1]![p]!, refA[p]!));

    expect(worst).toBeLessThan(1e-4);
    expect(worst).toBeGreaterThan(0); // float32 vs float64: equal bits would mean we compared a thing with itself
  });

  it('decoder_with_past_model.onnx: a cached, right-padded prefix then the rest gives model.onnx logits', async () => {
    const past = await createSession(new Uint8Array(readFileSync(join(folder, 'onnx/decoder_with_past_model.onnx'))), { intraOpThreads: 1 });
    try {
      // Two rows: prefixes of 5 and 3 real tokens (the second right-padded to 5), then 4 new tokens each.
      const seqs = [
        [1, 403, 407, 261, 378, 302, 285, 322, 400],
        [1, 67, 300, 411, 75, 94, 500],
      ];
      const prefixLen = [5, 3];
      const P = 5;
      const W = 4;
      const full = await Promise.all(seqs.map((s) => ortLogits(session, [s], [s.map(() => 1)])));
      const L = 5;
      const H = 4;
      const hd = 8;
      const empty = (): Record<string, { dtype: 'float32'; dims: number[]; data: Float32Array }> => {
        const o: Record<string, { dtype: 'float32'; dims: number[]; data: Float32Array }> = {};
        for (let l = 0; l < L; l++)
          for (const k of ['key', 'value']) o[`past_key_values.${l}.${k}`] = { dtype: 'float32', dims: [2, H, 0, hd], data: new Float32Array(0) };
        return o;
      };
      const prefIds = seqs.map((s, b) => [...s.slice(0, prefixLen[b]), ...Array(P - prefixLen[b]!).fill(0)]);
      const prefMask = prefixLen.map((n) => [...Array(n).fill(1), ...Array(P - n).fill(0)]);
      const pre = await past.run({ input_ids: i64([2, P], prefIds.flat()), attention_mask: i64([2, P], prefMask.flat()), ...empty() });
      const cache: Record<string, (typeof pre)[string]> = {};
      for (let l = 0; l < L; l++) for (const k of ['key', 'value']) cache[`past_key_values.${l}.${k}`] = pre[`present.${l}.${k}`]!;
      expect(cache['past_key_values.0.key']!.dims).toEqual([2, H, P, hd]);
      const newIds = seqs.map((s, b) => s.slice(prefixLen[b], prefixLen[b]! + W));
      const mask = prefMask.map((m) => [...m, ...Array(W).fill(1)]);
      const out = await past.run({ input_ids: i64([2, W], newIds.flat()), attention_mask: i64([2, P + W], mask.flat()), ...cache });
      const Vn = out.logits!.dims[2]!;
      const got = toNumbers(out.logits!);
      for (let b = 0; b < 2; b++) {
        for (let t = 0; t < W; t++) {
          const want = full[b]![0]![prefixLen[b]! + t]!;
          expect(maxAbsDiff(got.slice((b * W + t) * Vn, (b * W + t + 1) * Vn), want), `row ${b} token ${t}`).toBeLessThan(1e-4);
        }
      }
    } finally {
      await past.release();
    }
  });

  it('ORT greedy decoding from BOS reproduces the golden text token for token', async () => {
    const golden = spmBpeEncode(vocab, GOLDEN, { addBos: false });
    const ids = [1];
    for (let i = 0; i < golden.length; i++) {
      const [rows] = await ortLogits(session, [ids], [ids.map(() => 1)]);
      ids.push(argmax(rows!.at(-1)!));
    }
    expect(ids.slice(1)).toEqual(golden);
    expect(spmDecode(vocab, ids)).toBe(GOLDEN);
  });

  it('prefers " he" after "The pilot was tired, so" and " she" after "The little girl was tired, so"', async () => {
    const ratios: Record<string, number> = {};
    for (const prompt of ['The pilot was tired, so', 'The little girl was tired, so']) {
      const ids = spmBpeEncode(vocab, prompt);
      const he = spmBpeEncode(vocab, `${prompt} he`).slice(ids.length);
      const she = spmBpeEncode(vocab, `${prompt} she`).slice(ids.length);
      expect(he.map((i) => vocab.tokens[i])).toEqual(['▁he']);
      expect(she.map((i) => vocab.tokens[i])).toEqual(['▁she']);
      const [rows] = await ortLogits(session, [ids], [ids.map(() => 1)]);
      const lp = logSoftmax(rows!.at(-1)!);
      const lpRef = logSoftmax(referenceLogits(ref, ids).at(-1)!);
      expect(Math.abs(lp[he[0]!]! - lpRef[he[0]!]!)).toBeLessThan(1e-4);
      ratios[prompt] = Math.exp(lp[he[0]!]! - lp[she[0]!]!);
    }
    console.log('P(" he") / P(" she"):', ratios);
    expect(ratios['The pilot was tired, so']).toBeGreaterThan(1);
    expect(ratios['The little girl was tired, so']).toBeLessThan(1);
  });

  it('@huggingface/transformers loads the folder: AutoTokenizer and AutoModelForCausalLM (forward) agree with ORT', async () => {
    env.allowRemoteModels = false;
    env.localModelPath = dir;
    const tok = await AutoTokenizer.from_pretrained('stories260K', { local_files_only: true });
    const prompt = 'The pilot was tired, so';
    const ids = spmBpeEncode(vocab, prompt);
    expect(tok.encode(prompt)).toEqual(ids);
    const model = await AutoModelForCausalLM.from_pretrained('stories260K', { local_files_only: true, dtype: 'fp32' });
    try {
      const out = await model(tok(prompt));
      expect(out.logits.dims).toEqual([1, ids.length, 512]);
      const [rows] = await ortLogits(session, [ids], [ids.map(() => 1)]);
      expect(maxAbsDiff(Array.from(out.logits.data as Float32Array), rows!.flat())).toBeLessThan(1e-5);
    } finally {
      await model.dispose();
    }
  });

  it('CLI: crispr import gguf <file> --out <dir> writes the folder; refuses to overwrite without --force', async () => {
    const out = join(dir, 'cli');
    const c = captureIO();
    expect(await importCommand.run(['gguf', STORIES, '--out', out], c.io)).toBe(0);
    expect(c.out.join('\n')).toMatch(/48 tensors: 48 F32/);
    expect(c.out.join('\n')).toMatch(/5 layers, hidden 64, 8 heads \/ 4 kv heads, ffn 172, vocab 512/);
    expect(readFileSync(join(out, 'onnx/model.onnx')).equals(readFileSync(join(folder, 'onnx/model.onnx')))).toBe(true);
    await expect(importCommand.run(['gguf', STORIES, '--out', out], c.io)).rejects.toThrow(/already exists.*--force/);
    expect(await importCommand.run(['gguf', STORIES, '--out', out, '--force'], c.io)).toBe(0);
  });
});

describe('import gguf: usage errors', () => {
  const io = captureIO().io;
  it('names the problem', async () => {
    await expect(importCommand.run([], io)).rejects.toThrow(UserError);
    await expect(importCommand.run(['safetensors', 'x'], io)).rejects.toThrow(/unknown import subcommand 'safetensors' \(gguf\)/);
    await expect(importCommand.run(['gguf', 'x.gguf'], io)).rejects.toThrow(/--out <dir> is required/);
    await expect(importCommand.run(['gguf', '--out', 'd'], io)).rejects.toThrow(/expected one GGUF file, got 0/);
    await expect(importCommand.run(['gguf', '/nonexistent/m.gguf', '--out', 'd'], io)).rejects.toThrow(/m\.gguf: no such file/);
    await expect(importCommand.run(['gguf', 'a', '--out', 'd', '--bogus'], io)).rejects.toThrow(UserError);
  });
});

// ------------------------------------------------------------------ synthetic float16 Llama

/** Deterministic values k/64 (|k| <= 32), exact in float16. */
function weights(n: number, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s >>> 8) % 65) / 64 - 0.5;
  });
}

/** float -> float16 bits, for values exactly representable as normal halves (and 0). */
function toHalfBits(x: number): number {
  if (x === 0) return 0;
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  const e = Math.floor(Math.log2(a));
  const mant = Math.round((a / 2 ** e - 1) * 1024);
  return sign | ((e + 15) << 10) | mant;
}

function tinyLlama(opts: { quantised?: string; extraTensor?: boolean } = {}): Uint8Array {
  const D = 16,
    H = 2,
    F = 24,
    L = 2;
  const tokens = [
    '<unk>',
    '<s>',
    '</s>',
    ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
    '▁',
    'a',
    'b',
    '▁a',
  ];
  const nV = tokens.length;
  const types = tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1));
  const scores = tokens.map((_, i) => (i < 259 ? 0 : -(i - 258)));
  let seed = 1;
  const f16 = (name: string, dims: number[]): WTensor => ({ name, dims, type: 1, bytes: u16Bytes(weights(dims[0]! * (dims[1] ?? 1), seed++).map(toHalfBits)) });
  const f32 = (name: string, dims: number[]): WTensor => ({
    name,
    dims,
    type: 0,
    bytes: f32Bytes(weights(dims[0]! * (dims[1] ?? 1), seed++).map((x) => 1 + x)),
  });
  const tensors: WTensor[] = [f32('token_embd.weight', [D, nV]), f32('output_norm.weight', [D]), f16('output.weight', [D, nV])];
  for (let l = 0; l < L; l++) {
    tensors.push(
      f32(`blk.${l}.attn_norm.weight`, [D]),
      f16(`blk.${l}.attn_q.weight`, [D, D]),
      f16(`blk.${l}.attn_k.weight`, [D, D]),
      f16(`blk.${l}.attn_v.weight`, [D, D]),
      f16(`blk.${l}.attn_output.weight`, [D, D]),
      f32(`blk.${l}.ffn_norm.weight`, [D]),
      f16(`blk.${l}.ffn_gate.weight`, [D, F]),
      f16(`blk.${l}.ffn_up.weight`, [D, F]),
      f16(`blk.${l}.ffn_down.weight`, [F, D]),
    );
  }
  if (opts.quantised) {
    const i = tensors.findIndex((t) => t.name === opts.quantised);
    tensors[i] = { ...tensors[i]!, type: 8, bytes: new Uint8Array(34 * ((D * D) / 32)) }; // Q8_0 blocks
  }
  if (opts.extraTensor) tensors.push({ name: 'blk.0.attn_q.bias', dims: [D], type: 0, bytes: f32Bytes(new Array(D).fill(0)) });
  return writeGgufBytes({
    version: 3,
    metadata: [
      ['general.architecture', V.str('llama')],
      ['llama.context_length', V.u32(64)],
      ['llama.embedding_length', V.u32(D)],
      ['llama.feed_forward_length', V.u32(F)],
      ['llama.attention.head_count', V.u32(H)],
      ['llama.block_count', V.u32(L)],
      ['llama.rope.freq_base', V.f32(500)],
      ['llama.attention.layer_norm_rms_epsilon', V.f32(1e-6)],
      ['tokenizer.ggml.model', V.str('llama')],
      ['tokenizer.ggml.tokens', V.arr(GgufValueType.STRING, tokens.map(V.str))],
      ['tokenizer.ggml.scores', V.arr(GgufValueType.FLOAT32, scores.map(V.f32))],
      ['tokenizer.ggml.token_type', V.arr(GgufValueType.INT32, types.map(V.i32))],
      ['tokenizer.ggml.bos_token_id', V.u32(1)],
      ['tokenizer.ggml.eos_token_id', V.u32(2)],
    ],
    tensors,
  });
}

describe('import gguf: synthetic float16 Llama without grouped-query attention', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'crispr-gguf-tiny-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('imports float16 tensors and matches the float64 reference (theta 500, eps 1e-6, 2 heads = 2 kv heads)', async () => {
    const path = join(dir, 'tiny.gguf');
    writeFileSync(path, tinyLlama());
    const summary = importGguf(path, join(dir, 'tiny'));
    expect(summary.tensorTypes).toEqual({ F32: 6, F16: 15 });
    expect(summary.config).toMatchObject({ num_attention_heads: 2, num_key_value_heads: 2, rope_theta: 500, rms_norm_eps: 1e-6, vocab_size: 263 });
    const s = await createSession(new Uint8Array(readFileSync(join(dir, 'tiny/onnx/model.onnx'))), { intraOpThreads: 1 });
    try {
      const ref = loadReferenceModel(path);
      const ids = [1, 262, 260, 261, 259, 262, 3, 200];
      const want = referenceLogits(ref, ids);
      const [got] = await ortLogits(s, [ids], [ids.map(() => 1)]);
      let worst = 0;
      ids.forEach((_, p) => (worst = Math.max(worst, maxAbsDiff(got![p]!, want[p]!))));
      expect(worst).toBeLessThan(1e-4);
    } finally {
      await s.release();
    }
  });

  it('rejects quantised tensors and unknown tensors, naming them, and writes nothing', () => {
    const q = join(dir, 'q.gguf');
    writeFileSync(q, tinyLlama({ quantised: 'blk.1.attn_v.weight' }));
    expect(() => importGguf(q, join(dir, 'q'))).toThrow(/tensor 'blk\.1\.attn_v\.weight' has type Q8_0; only F32 and F16/);
    expect(existsSync(join(dir, 'q'))).toBe(false);
    const x = join(dir, 'x.gguf');
    writeFileSync(x, tinyLlama({ extraTensor: true }));
    expect(() => importGguf(x, join(dir, 'x'))).toThrow(/not understood by the Llama importer: blk\.0\.attn_q\.bias/);
  });
});
