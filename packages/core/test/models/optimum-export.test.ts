/**
 * A model exported by others: `models/t5-export-tiny` in the assets is a Flan-T5-architecture
 * model exported by PyTorch in the Optimum layout (the encoder as the bare T5Stack, so its node
 * names carry no `encoder.` prefix), with PyTorch's own float64 attributions beside it. Our
 * sites, attributions, scores and pruned folders are checked against those files, not against a
 * generator of ours. Then folders that mimic other downloads (merged decoder, transformers.js
 * variants, a quantised file, stripped node names) get the promised choice or error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { AutoModelForSeq2SeqLM, Tensor as HfTensor, env } from '@huggingface/transformers';
import { readModel, writeModel } from '../../src/onnx/io.js';
import { loadModelFolder, type ModelFolder } from '../../src/models/folder.js';
import { shareRows } from '../../src/onnx/share-rows.js';
import { detectLayout } from '../../src/models/layout.js';
import { explainCommand, inspectCommand, pruneCommand, sitesCommand } from '../../src/cli/index.js';
import { Attributor } from '../../src/attribution/run.js';
import { attributionExample, attributionModel } from '../../src/attribution/folder.js';
import { releaseScoringSessions, scoreOptions } from '../../src/models/scoring.js';
import { pruningMasks } from '../../src/models/masks.js';
import type { AttributionResult } from '../../src/attribution/types.js';
import { tempDir } from './helpers.js';
import { T5_EXPORT, copyExportShell, quantiseLinears, roundWeightsToHalf, stripNodeNames, toHalf } from './export-fixtures.js';

env.allowRemoteModels = false;
env.allowLocalModels = true;

const HAVE = existsSync(join(T5_EXPORT, 'reference_attribution.json'));

interface RefModule {
  out_features: number;
  reduce_over: 'encoder' | 'target';
  max_attr: number[];
  sum_attr: number[];
}
interface RefCase {
  name: string;
  prompt_ids: number[];
  target_ids: number[];
  logprob: number;
  token_logprobs: number[];
  modules: Record<string, RefModule>;
  prob_objective: { value: number; modules: Record<string, RefModule> };
}
const ref = HAVE ? (JSON.parse(readFileSync(join(T5_EXPORT, 'reference_attribution.json'), 'utf8')) as { cases: RefCase[] }) : { cases: [] };
const linearMap = HAVE
  ? (JSON.parse(readFileSync(join(T5_EXPORT, 'onnx_linear_map.json'), 'utf8')) as Record<
      string,
      { graph: string; node: string; weight_initializer: string; weight_shape_in_out: [number, number] }
    >)
  : {};
const moduleNames = Object.keys(linearMap).filter((n) => n !== 'lm_head');

function capture(): { io: { out: (l: string) => void; err: (l: string) => void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l) }, out, err };
}

/** Per module: max |ours - reference| / max |reference| (the issue's scaled error). */
function worstScaledError(res: AttributionResult, row: number, modules: Record<string, RefModule>, reduce: 'max' | 'sum'): { worst: number; where: string } {
  let worst = 0;
  let where = '';
  expect(res.sites.map((s) => s.name).sort()).toEqual(
    Object.keys(modules)
      .filter((n) => n !== 'lm_head')
      .sort(),
  );
  for (const s of res.sites) {
    const want = modules[s.name]![reduce === 'max' ? 'max_attr' : 'sum_attr'];
    const got = s.values[row]!;
    expect(got.length).toBe(want.length);
    const scale = Math.max(...want.map(Math.abs));
    let diff = 0;
    for (let u = 0; u < want.length; u++) diff = Math.max(diff, Math.abs(got[u]! - want[u]!));
    const e = scale > 0 ? diff / scale : diff;
    if (e > worst) {
      worst = e;
      where = s.name;
    }
  }
  return { worst, where };
}

const hf = (rows: number[][]) => new HfTensor('int64', BigInt64Array.from(rows.flat().map((x) => BigInt(x))), [rows.length, rows[0]!.length]);

describe.skipIf(!HAVE)(`a Flan-T5 export by PyTorch in the Optimum layout (${HAVE ? T5_EXPORT : `not found at ${T5_EXPORT}; set CRISPR_ASSETS`})`, () => {
  const tmp = tempDir('t5-export');
  let folder: ModelFolder;
  beforeAll(async () => {
    folder = await loadModelFolder(T5_EXPORT);
  });
  afterAll(async () => {
    await releaseScoringSessions();
    tmp.cleanup();
  });

  it('crispr sites gives exactly the Hugging Face module names of onnx_linear_map.json, encoder and cross k/v on the input side', async () => {
    const c = capture();
    expect(await sitesCommand.run(['--model', T5_EXPORT, '--json'], c.io)).toBe(0);
    const doc = JSON.parse(c.out.join('\n')) as { sites: { name: string; side: string; width: number; stack: string }[] };
    expect(doc.sites).toHaveLength(43);
    expect(doc.sites.map((s) => s.name).sort()).toEqual([...moduleNames].sort());
    for (const s of doc.sites) {
      expect(s.width).toBe(linearMap[s.name]!.weight_shape_in_out[1]);
      const inputSide = s.name.startsWith('encoder.') || /EncDecAttention\.[kv]$/.test(s.name);
      expect([s.name, s.side]).toEqual([s.name, inputSide ? 'input' : 'target']);
      expect(s.stack).toBe(s.name.startsWith('encoder.') ? 'encoder' : 'decoder');
    }
    // Each site is the linear layer PyTorch says it is: same weight initializer in the same file.
    const fromFile = new Map(folder.fileSites.flatMap((f) => f.sites.map((s) => [s.name, { file: f.file, weight: s.weight }] as const)));
    for (const name of moduleNames) expect(fromFile.get(name)).toEqual({ file: linearMap[name]!.graph, weight: linearMap[name]!.weight_initializer });
  });

  it('attributions equal PyTorch float64 for max and sum, logprob and prob, on all four cases (1e-4 scaled)', { timeout: 400_000 }, async () => {
    const examples = ref.cases.map((c) => attributionExample(folder, c.prompt_ids, c.target_ids));
    const report: string[] = [];
    for (const objective of ['logprob', 'prob'] as const) {
      for (const reduce of ['max', 'sum'] as const) {
        const attributor = new Attributor(attributionModel(folder), { objective, reduce, maxBatch: 4 });
        let res: AttributionResult;
        try {
          res = await attributor.run(examples);
        } finally {
          await attributor.close();
        }
        ref.cases.forEach((c, i) => {
          expect(Math.abs(res.logprob[i]! - c.logprob) / Math.abs(c.logprob)).toBeLessThan(1e-5);
          const modules = objective === 'logprob' ? c.modules : c.prob_objective.modules;
          const objectiveRef = objective === 'logprob' ? c.logprob : c.prob_objective.value;
          expect(Math.abs(res.objective[i]! - objectiveRef) / Math.abs(objectiveRef)).toBeLessThan(1e-5);
          const { worst, where } = worstScaledError(res, i, modules, reduce);
          report.push(`${c.name} ${objective}/${reduce}: ${worst.toExponential(2)} (${where})`);
          expect(worst, `${c.name} ${objective}/${reduce} at ${where}`).toBeLessThan(1e-4);
        });
      }
    }
    console.log(`t5-export-tiny vs PyTorch, worst scaled error per case:\n  ${report.join('\n  ')}`);
  });

  it('rows that share a prompt (its encoder forward run once, gathered to each row) equal PyTorch for each row', { timeout: 200_000 }, async () => {
    // Each case twice, and each prompt with another case's target: one batch of 8 rows holds
    // several rows per prompt, and the two rows of one example must equal its reference.
    const examples = ref.cases.flatMap((c) => [attributionExample(folder, c.prompt_ids, c.target_ids), attributionExample(folder, c.prompt_ids, c.target_ids)]);
    const attributor = new Attributor(attributionModel(folder), { objective: 'logprob', reduce: 'max', maxBatch: 8, lengthMultiple: 32 });
    let res: AttributionResult;
    try {
      res = await attributor.run(examples);
    } finally {
      await attributor.close();
    }
    expect(res.plan.sharedPrompts).toBe(true);
    ref.cases.forEach((c, i) => {
      for (const row of [2 * i, 2 * i + 1]) {
        expect(Math.abs(res.logprob[row]! - c.logprob) / Math.abs(c.logprob)).toBeLessThan(1e-5);
        const { worst, where } = worstScaledError(res, row, c.modules, 'max');
        expect(worst, `${c.name} row ${row} at ${where}`).toBeLessThan(1e-4);
      }
    });
  });

  it('crispr explain --prompt-ids --target-ids writes the reference numbers', async () => {
    const c = ref.cases[0]!;
    const json = join(tmp.dir, 'explain.json');
    const cap = capture();
    const code = await explainCommand.run(
      ['--model', T5_EXPORT, '--prompt-ids', c.prompt_ids.join(','), '--target-ids', c.target_ids.join(','), '--reduce', 'sum', '--json', json],
      cap.io,
    );
    expect(code).toBe(0);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as { logprob: number; sites: { name: string; values: number[] }[] };
    expect(Math.abs(doc.logprob - c.logprob) / Math.abs(c.logprob)).toBeLessThan(1e-5);
    const res = { sites: doc.sites.map((s) => ({ name: s.name, values: [Float32Array.from(s.values)] })) } as unknown as AttributionResult;
    expect(worstScaledError(res, 0, c.modules, 'sum').worst).toBeLessThan(1e-4);
  });

  it('option scoring equals the reference log-probs, token by token, with the cross-attention keys and values computed once per prompt', async () => {
    // The decoder's prompt side (cross-attention keys and values of the encoder states) is shared
    // by the candidate rows of a prompt; PyTorch's exporter laid this graph out, not ours.
    const shared = shareRows(folder.parts!.decoder, { shared: ['encoder_hidden_states', 'encoder_attention_mask'], index: 'rows' });
    expect(shared).not.toBeNull();
    const crossKv = folder.sites.filter((x) => /EncDecAttention\.[kv]$/.test(x.name)).map((x) => x.output);
    expect(crossKv.length).toBeGreaterThan(0);
    for (const v of crossKv) expect(shared!.promptValues.has(v), v).toBe(true);
    expect(folder.sites.filter((x) => shared!.promptValues.has(x.output)).map((x) => x.name)).toEqual(
      folder.sites.filter((x) => /EncDecAttention\.[kv]$/.test(x.name)).map((x) => x.name),
    );
    // Three candidates a prompt: the reference target between two others, so rows and prompts differ.
    const scores = await scoreOptions(
      folder,
      ref.cases.map((c) => ({ prompt: c.prompt_ids, candidates: [[...c.target_ids].reverse(), c.target_ids, c.target_ids.slice(1)] })),
      { batchSize: 4 },
    );
    ref.cases.forEach((c, i) => {
      const s = scores[i]![1]!;
      expect(Math.abs(s.logprob - c.logprob) / Math.abs(c.logprob)).toBeLessThan(1e-5);
      expect(s.tokenLogprobs).toHaveLength(c.token_logprobs.length);
      s.tokenLogprobs.forEach((t, j) => expect(Math.abs(t - c.token_logprobs[j]!)).toBeLessThan(1e-4));
    });
  });

  it('crispr prune writes the Optimum layout; pruned units read zero in a plain onnxruntime session', async () => {
    const neurons = [
      { site: 'encoder.block.1.layer.1.DenseReluDense.wi_0', unit: 5 },
      { site: 'decoder.block.0.layer.1.EncDecAttention.k', unit: 3 },
      { site: 'decoder.block.1.layer.2.DenseReluDense.wo', unit: 7 },
    ];
    const rankingPath = join(tmp.dir, 'ranking.json');
    await import('node:fs').then((fs) => fs.writeFileSync(rankingPath, JSON.stringify({ neurons })));
    const out = join(tmp.dir, 'pruned');
    const cap = capture();
    expect(await pruneCommand.run(['--model', T5_EXPORT, '--neurons', rankingPath, '--k', '3', '--out', out], cap.io)).toBe(0);
    expect(detectLayout(out).files.map((f) => f.file)).toEqual(['onnx/encoder_model.onnx', 'onnx/decoder_model.onnx']);

    // Each pruned site's own MatMul output, read from the pruned file by plain onnxruntime.
    const c = ref.cases[0]!;
    const P = c.prompt_ids.length;
    const encFeeds = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(c.prompt_ids.map(BigInt)), [1, P]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(P).fill(1n), [1, P]),
    };
    const probe = async (file: string, node: string, feeds: Record<string, ort.Tensor>) => {
      const m = readModel(join(out, file));
      const value = m.graph.nodes.find((n) => n.name === node)!.outputs[0]!;
      m.graph.outputs.push({ name: value, dtype: 'float32', shape: null });
      const path = join(tmp.dir, `probe-${file.replace(/\W/g, '_')}`);
      writeModel(m, path);
      const session = await ort.InferenceSession.create(path);
      try {
        const r = await session.run(feeds);
        return { out: r[value]!, all: r };
      } finally {
        await session.release();
      }
    };
    const enc = await probe('onnx/encoder_model.onnx', linearMap['encoder.block.1.layer.1.DenseReluDense.wi_0']!.node, encFeeds);
    const hidden = enc.all.last_hidden_state!;
    const column = (t: ort.Tensor, unit: number) => {
      const width = t.dims[t.dims.length - 1]!;
      const d = t.data as Float32Array;
      return Array.from({ length: d.length / width }, (_, r) => d[r * width + unit]!);
    };
    expect(column(enc.out, 5).every((x) => x === 0)).toBe(true);
    expect(column(enc.out, 6).some((x) => x !== 0)).toBe(true);
    const dec = c.target_ids.length;
    const decFeeds = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from([0, ...c.target_ids.slice(0, -1)].map(BigInt)), [1, dec]),
      encoder_attention_mask: encFeeds.attention_mask,
      encoder_hidden_states: hidden,
    };
    for (const [site, unit] of [
      ['decoder.block.0.layer.1.EncDecAttention.k', 3],
      ['decoder.block.1.layer.2.DenseReluDense.wo', 7],
    ] as const) {
      const r = await probe('onnx/decoder_model.onnx', linearMap[site]!.node, decFeeds);
      expect(
        column(r.out, unit).every((x) => x === 0),
        site,
      ).toBe(true);
      expect(
        column(r.out, unit === 3 ? 4 : 8).some((x) => x !== 0),
        site,
      ).toBe(true);
    }
  });

  it('crispr inspect says which files were chosen and why, the sites per file and what was not taken', async () => {
    const cap = capture();
    expect(await inspectCommand.run(['--model', T5_EXPORT], cap.io)).toBe(0);
    const text = cap.out.join('\n');
    expect(text).toMatch(/layout +seq2seq, variant fp32/);
    expect(text).toMatch(/onnx\/encoder_model\.onnx: the encoder \(site names get the prefix encoder\./);
    expect(text).toMatch(/onnx\/encoder_model\.onnx \(role encoder\): 21 sites/);
    expect(text).toMatch(/onnx\/decoder_model\.onnx \(role decoder\): 22 sites/);
    expect(text).toMatch(/1 x LM head \(feeds logits with no other linear layer between\): \/lm_head\/MatMul/);
    expect(text).toMatch(/6 x no 2-D initializer weight .*: \/block\.0\/layer\.0\/SelfAttention\/MatMul/);
    expect(text).toMatch(/total: 43 sites, 2016 neurons \(input side 1184, target side 832\)/);
  });
});

describe.skipIf(!HAVE)('folders that mimic other downloads of the same export', () => {
  const tmp = tempDir('t5-layouts');
  afterAll(async () => {
    await releaseScoringSessions();
    tmp.cleanup();
  });
  const src = (f: string) => join(T5_EXPORT, 'onnx', f);

  it('encoder + decoder_model_merged + decoder_with_past: the merged decoder is analysed, all three are pruned, transformers.js reads the pruned folder', async () => {
    const dir = join(tmp.dir, 'merged');
    copyExportShell(dir);
    copyFileSync(src('encoder_model.onnx'), join(dir, 'onnx/encoder_model.onnx'));
    copyFileSync(src('decoder_model.onnx'), join(dir, 'onnx/decoder_model_merged.onnx'));
    copyFileSync(src('decoder_model.onnx'), join(dir, 'onnx/decoder_with_past_model.onnx'));
    const layout = detectLayout(dir);
    expect(layout.files.map((f) => [f.file, f.role, f.analysed])).toEqual([
      ['onnx/encoder_model.onnx', 'encoder', true],
      ['onnx/decoder_model_merged.onnx', 'decoder', true],
      ['onnx/decoder_with_past_model.onnx', 'decoder', false],
    ]);
    expect(layout.reasons.join('\n')).toMatch(/decoder_with_past_model\.onnx: not analysed \(it needs past key\/values\)/);
    const f = await loadModelFolder(dir);
    expect(f.sites.map((s) => `${s.name}:${s.side}`).sort()).toEqual((await loadModelFolder(T5_EXPORT)).sites.map((s) => `${s.name}:${s.side}`).sort());
    const c = ref.cases[1]!;
    const [s] = (await scoreOptions(f, [{ prompt: c.prompt_ids, candidates: [c.target_ids] }]))[0]!;
    expect(Math.abs(s!.logprob - c.logprob) / Math.abs(c.logprob)).toBeLessThan(1e-5);
    // transformers.js (which reads T5 only through decoder_model_merged.onnx) loads the pruned
    // folder and agrees with the masked model.
    const neurons = [
      { site: 'encoder.block.0.layer.0.SelfAttention.q', unit: 1 },
      { site: 'decoder.block.1.layer.1.EncDecAttention.v', unit: 6 },
      { site: 'decoder.block.0.layer.2.DenseReluDense.wi_0', unit: 11 },
    ];
    const out = join(tmp.dir, 'merged-pruned');
    const res = await (await import('../../src/models/prune.js')).pruneFolder(dir, neurons, 3, out);
    expect([...res.pruned].sort()).toEqual(['onnx/decoder_model_merged.onnx', 'onnx/decoder_with_past_model.onnx', 'onnx/encoder_model.onnx']);
    const masked = await scoreOptions(f, [{ prompt: c.prompt_ids, candidates: [c.target_ids] }], { masks: pruningMasks(f.sites, neurons) });
    const model = await AutoModelForSeq2SeqLM.from_pretrained(out, { local_files_only: true, dtype: 'fp32' });
    try {
      const o = await model({
        input_ids: hf([c.prompt_ids]),
        attention_mask: hf([c.prompt_ids.map(() => 1)]),
        decoder_input_ids: hf([[0, ...c.target_ids.slice(0, -1)]]),
      });
      const V = o.logits.dims[2] as number;
      const logits = o.logits.data as Float32Array;
      let lp = 0;
      c.target_ids.forEach((t, pos) => {
        let max = -Infinity;
        for (let v = 0; v < V; v++) max = Math.max(max, logits[pos * V + v]!);
        let sum = 0;
        for (let v = 0; v < V; v++) sum += Math.exp(logits[pos * V + v]! - max);
        lp += logits[pos * V + t]! - max - Math.log(sum);
      });
      expect(Math.abs(lp - masked[0]![0]!.logprob)).toBeLessThan(1e-4);
      expect(Math.abs(lp - s!.logprob)).toBeGreaterThan(1e-4);
    } finally {
      await model.dispose();
    }
  });

  it('transformers.js variants side by side: fp32 by default, --variant chooses, quantised files are refused naming op and file', async () => {
    const dir = join(tmp.dir, 'variants');
    copyExportShell(dir);
    for (const part of ['encoder_model', 'decoder_model']) {
      const m = readModel(src(`${part}.onnx`));
      copyFileSync(src(`${part}.onnx`), join(dir, `onnx/${part}.onnx`));
      writeModel(quantiseLinears(m), join(dir, `onnx/${part}_quantized.onnx`));
      writeModel(toHalf(m), join(dir, `onnx/${part}_fp16.onnx`));
    }
    const layout = detectLayout(dir);
    expect(layout.variant).toBe('fp32');
    expect(layout.variants).toEqual(['fp32', 'fp16', 'quantized']);
    expect(layout.reasons[0]).toMatch(/variant fp32 \(the default; also present: fp16, quantized\)/);
    expect(layout.ignored.map((i) => i.file)).toEqual([
      'onnx/decoder_model_fp16.onnx',
      'onnx/decoder_model_quantized.onnx',
      'onnx/encoder_model_fp16.onnx',
      'onnx/encoder_model_quantized.onnx',
    ]);
    expect((await loadModelFolder(dir, { tokenizer: false })).files).toEqual(['onnx/encoder_model.onnx', 'onnx/decoder_model.onnx']);

    const cap = capture();
    await expect(sitesCommand.run(['--model', dir, '--variant', 'quantized'], cap.io)).rejects.toThrow(
      /onnx\/encoder_model_quantized\.onnx: node '[^']+' is (DynamicQuantizeLinear|MatMulInteger), a quantised operation that cannot be differentiated.*variant 'quantized'.*use the fp32 file onnx\/encoder_model\.onnx/,
    );
    await expect(sitesCommand.run(['--model', dir, '--variant', 'int4'], cap.io)).rejects.toThrow(/unknown variant 'int4', available: fp32, fp16, quantized/);

    // fp16 weights are computed in float32: exactly the fp32 graph with fp16-rounded weights, and
    // PyTorch's numbers up to that rounding.
    const half = await loadModelFolder(dir, { variant: 'fp16' });
    expect(half.files).toEqual(['onnx/encoder_model_fp16.onnx', 'onnx/decoder_model_fp16.onnx']);
    expect(half.fileSites.every((f) => f.upcast > 0)).toBe(true);
    expect(half.sites).toHaveLength(43);
    const roundedDir = join(tmp.dir, 'rounded');
    copyExportShell(roundedDir);
    for (const part of ['encoder_model', 'decoder_model'])
      writeModel(roundWeightsToHalf(readModel(src(`${part}.onnx`))), join(roundedDir, `onnx/${part}.onnx`));
    const rounded = await loadModelFolder(roundedDir);
    const c = ref.cases[0]!;
    const attribute = async (f: ModelFolder) => {
      const a = new Attributor(attributionModel(f), { objective: 'logprob', reduce: 'max', maxBatch: 1 });
      try {
        return await a.run([attributionExample(f, c.prompt_ids, c.target_ids)]);
      } finally {
        await a.close();
      }
    };
    const [viaHalf, viaRounded] = [await attribute(half), await attribute(rounded)];
    expect(Math.abs(viaHalf.logprob[0]! - viaRounded.logprob[0]!) / Math.abs(c.logprob)).toBeLessThan(1e-5);
    const asRef = Object.fromEntries(viaRounded.sites.map((x) => [x.name, { max_attr: Array.from(x.values[0]!) } as RefModule]));
    expect(worstScaledError(viaHalf, 0, asRef, 'max').worst).toBeLessThan(1e-4);
    const { worst } = worstScaledError(viaHalf, 0, c.modules, 'max');
    console.log(
      `fp16 variant vs PyTorch on the fp32 weights: logprob ${viaHalf.logprob[0]!.toFixed(5)} vs ${c.logprob.toFixed(5)}, worst scaled attribution error ${worst.toExponential(2)} (weight rounding)`,
    );
    expect(Math.abs(viaHalf.logprob[0]! - c.logprob) / Math.abs(c.logprob)).toBeLessThan(1e-3);

    // Pruning writes every float variant and leaves the quantised one out, saying why.
    const { pruneFolder } = await import('../../src/models/prune.js');
    const res = await pruneFolder(dir, [{ site: 'decoder.block.1.layer.2.DenseReluDense.wi_1', unit: 2 }], 1, join(tmp.dir, 'variants-pruned'));
    expect([...res.pruned].sort()).toEqual([
      'onnx/decoder_model.onnx',
      'onnx/decoder_model_fp16.onnx',
      'onnx/encoder_model.onnx',
      'onnx/encoder_model_fp16.onnx',
    ]);
    expect(res.skipped.join('\n')).toMatch(/onnx\/encoder_model_quantized\.onnx \(quantised \((DynamicQuantizeLinear|MatMulInteger) node/);
  });

  it('stripped node names and exporter-named weights: names recovered from the structure, or the layers named in an error', async () => {
    const dir = join(tmp.dir, 'stripped');
    copyExportShell(dir);
    for (const part of ['encoder_model', 'decoder_model']) writeModel(stripNodeNames(readModel(src(`${part}.onnx`))), join(dir, `onnx/${part}.onnx`));
    // Every name comes back, each on the weight PyTorch says implements it, on the same side.
    const f = await loadModelFolder(dir);
    expect(f.fileSites.map((x) => x.recovered.length)).toEqual([21, 22]);
    const fromFile = new Map(f.fileSites.flatMap((x) => x.sites.map((s) => [s.name, { file: x.file, weight: s.weight }] as const)));
    expect([...fromFile.keys()].sort()).toEqual([...moduleNames].sort());
    for (const name of moduleNames) expect(fromFile.get(name)).toEqual({ file: linearMap[name]!.graph, weight: linearMap[name]!.weight_initializer });
    const named = await loadModelFolder(T5_EXPORT, { tokenizer: false });
    expect(f.sites.map((s) => `${s.name}:${s.side}:${s.kind}`).sort()).toEqual(named.sites.map((s) => `${s.name}:${s.side}:${s.kind}`).sort());
    const insp = capture();
    expect(await inspectCommand.run(['--model', dir], insp.io)).toBe(0);
    expect(insp.out.join('\n')).toMatch(
      /21 site name\(s\) recovered from the graph's structure and config\.json[\s\S]*unnamed MatMul #\d+ -> encoder\.block\.0\.layer\.0\.SelfAttention\.q/,
    );

    // A config that does not describe the graph: nothing is guessed, the layers are listed.
    const lying = join(tmp.dir, 'stripped-wrong-config');
    copyExportShell(lying);
    for (const part of ['encoder_model', 'decoder_model']) copyFileSync(join(dir, `onnx/${part}.onnx`), join(lying, `onnx/${part}.onnx`));
    const config = JSON.parse(readFileSync(join(lying, 'config.json'), 'utf8'));
    writeFileSync(join(lying, 'config.json'), JSON.stringify({ ...config, num_layers: 4 }));
    const cap = capture();
    await expect(sitesCommand.run(['--model', lying], cap.io)).rejects.toThrow(
      /21 linear layer\(s\) whose module name could not be recovered[\s\S]*onnx\/encoder_model\.onnx: unnamed MatMul #\d+ \(weight onnx::MatMul_396 \[32\]\)[\s\S]*Pass --lenient/,
    );
    const bad = capture();
    expect(await inspectCommand.run(['--model', lying], bad.io)).toBe(1);
    expect(bad.out.join('\n')).toMatch(
      /structural recovery failed: config\.json \(model_type t5\) leaves 28 linear layer\(s\) unaccounted for, but 21 have no name/,
    );
    writeFileSync(join(lying, 'config.json'), JSON.stringify({ ...config, model_type: 'my-t5' }));
    const unknown = capture();
    expect(await inspectCommand.run(['--model', lying], unknown.io)).toBe(1);
    expect(unknown.out.join('\n')).toMatch(/no structural template for model_type 'my-t5' \(known: t5, mt5/);
  });
});
