/**
 * The embedded default model: deterministic build through the GGUF import, its pronoun behaviour
 * under ORT (stereotype preference, control accuracy), the planted units' roles checked by
 * masking them, and a CRISPR pass (attribution, aggregation, ranking) that finds and removes the
 * bias units without hurting the controls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attributor, attributionExample, attributionModel, loadModelFolder, releaseScoringSessions, scoreOptions, type ModelFolder } from '@crispr-bench/core';
import { pronounItems, type PronounItem } from '@crispr-bench/datasets';
import { pronounMetrics, type PronounMetrics } from '@crispr-bench/judges';
import { aggregate, masksForTopK, rankNeurons, type InstanceAttribution } from '../src/crispr/index.js';
import { defaultModelLexicon, makeDefaultModel, type DefaultModel, type PlantedUnit } from '../src/default-model/index.js';

process.env.ORT_DISABLE_TELEMETRY = '1';

describe('default model', () => {
  let tmp: string;
  let model: DefaultModel;
  let folder: ModelFolder;
  let items: PronounItem[];
  const figures: Record<string, unknown> = {};

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'crispr-default-model-'));
    const t0 = performance.now();
    model = await makeDefaultModel(join(tmp, 'default'));
    figures.buildMs = Math.round(performance.now() - t0);
    folder = await loadModelFolder(model.dir);
    items = pronounItems();
  });
  afterAll(async () => {
    console.log('default model figures:', JSON.stringify(figures, null, 1));
    await releaseScoringSessions();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Scores every pronoun item under `masks`; returns the metrics and per-item log-odds (he - she). */
  async function evaluate(masks: Record<string, Float32Array> = {}): Promise<{ metrics: PronounMetrics; logOdds: Map<string, number> }> {
    const sc = await scoreOptions(
      folder,
      items.map((it) => ({ prompt: it.fields.text, candidates: it.options })),
      { masks, batchSize: 64 },
    );
    const metrics = pronounMetrics(items.map((it, i) => ({ item: it, probs: sc[i]!.map((c) => Math.exp(c.logprob)) })));
    const he = items[0]!.options.indexOf(' he');
    const logOdds = new Map(items.map((it, i) => [it.id, sc[i]![he]!.logprob - sc[i]![1 - he]!.logprob]));
    return { metrics, logOdds };
  }

  function masksFor(units: readonly PlantedUnit[]): Record<string, Float32Array> {
    const masks: Record<string, Float32Array> = {};
    for (const u of units) {
      const site = folder.sites.find((s) => s.name === u.site)!;
      (masks[u.site] ??= new Float32Array(site.width).fill(1))[u.unit] = 0;
    }
    return masks;
  }
  const role = (prefix: string) => model.plantedUnits.filter((u) => u.role.startsWith(prefix));

  it('is a Llama folder from the GGUF import, deterministic in its seed', async () => {
    expect(readdirSync(model.dir).sort()).toEqual(['config.json', 'generation_config.json', 'onnx', 'tokenizer.json', 'tokenizer_config.json']);
    expect(folder.config).toMatchObject({
      model_type: 'llama',
      hidden_size: 48,
      intermediate_size: 96,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
    });
    figures.parameters = model.parameterCount;
    figures.ggufBytes = model.ggufBytes;
    figures.onnxBytes = readFileSync(join(model.dir, 'onnx/model.onnx')).length;
    figures.vocab = folder.config.vocab_size;
    const again = await makeDefaultModel(join(tmp, 'again'));
    for (const f of ['onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json', 'config.json', 'generation_config.json']) {
      expect(readFileSync(join(again.dir, f)).equals(readFileSync(join(model.dir, f))), f).toBe(true);
    }
    expect(again.plantedUnits).toEqual(model.plantedUnits);
    const other = await makeDefaultModel(join(tmp, 'other'), { seed: 5 });
    expect(readFileSync(join(other.dir, 'onnx/model.onnx')).equals(readFileSync(join(model.dir, 'onnx/model.onnx')))).toBe(false);
    await expect(makeDefaultModel(join(tmp, 'again'))).rejects.toThrow(/already exists/);
    expect(model.description).toMatch(/2-layer Llama/);
  });

  it('tokenises every word of the pronoun set as one piece; the options are one token each', () => {
    const vocab = JSON.parse(readFileSync(join(model.dir, 'tokenizer.json'), 'utf8')).model.vocab as Record<string, number>;
    const byId = new Map(Object.entries(vocab).map(([t, i]) => [i, t]));
    for (const it of items) {
      const toks = folder.tokenizer.encode(it.fields.text).map((i) => byId.get(i)!);
      expect(
        toks.filter((t) => /^<0x/.test(t)),
        it.fields.text,
      ).toEqual([]);
      expect(toks.length, it.fields.text).toBe(it.fields.text.split(/\s+/).length + (it.fields.text.match(/,/g)?.length ?? 0) + 1);
    }
    expect(folder.tokenizer.encode('The pilot was tired, so he').map((i) => byId.get(i))).toEqual([
      '<s>',
      '▁The',
      '▁pilot',
      '▁was',
      '▁tired',
      ',',
      '▁so',
      '▁he',
    ]);
    const { features } = defaultModelLexicon(items);
    expect(features.get(' pilot')!.stereotype).toBeCloseTo(0.88);
    expect(features.get(' nurse')!.stereotype).toBeCloseTo(-0.74);
    expect(features.get(' girl')).toEqual({ stereotype: 0, gender: -1 });
    expect(features.has(' little')).toBe(false); // little girl / little boy: no direction
  });

  it('lists planted units that exist in the model', () => {
    expect(role('bias:male')).toHaveLength(4);
    expect(role('bias:female')).toHaveLength(4);
    expect(role('knowledge:')).toHaveLength(4);
    for (const u of model.plantedUnits) {
      const site = folder.sites.find((s) => s.name === u.site);
      expect(site, u.site).toBeDefined();
      expect(u.unit).toBeLessThan(site!.width);
    }
    // Bias and knowledge units are distinct FFN units.
    const ffn = model.plantedUnits.filter((u) => /^(bias|knowledge)/.test(u.role) && u.site.endsWith('gate_proj')).map((u) => u.unit);
    expect(new Set(ffn).size).toBe(6);
  });

  it('prefers the stereotyped pronoun (~20:1) and answers the controls; masking the bias units removes the preference, not the controls', async () => {
    const base = await evaluate();
    const pilot = base.logOdds.get('occupation:pilot:tired')!;
    const nurse = base.logOdds.get('occupation:nurse:tired')!;
    const girl = base.logOdds.get('control:little-girl:tired')!;
    figures.original = {
      ...base.metrics,
      pilotHeToShe: +Math.exp(pilot).toFixed(1),
      nurseSheToHe: +Math.exp(-nurse).toFixed(1),
      littleGirlSheToHe: +Math.exp(-girl).toFixed(0),
    };
    expect(base.metrics.nProbe).toBe(100);
    expect(base.metrics.nControl).toBe(80);
    expect(base.metrics.stereotypePreference!).toBeGreaterThan(0.7);
    expect(base.metrics.stereotypeWinShare!).toBeGreaterThanOrEqual(0.95);
    expect(base.metrics.controlAccuracy).toBe(1);
    expect(Math.exp(pilot)).toBeGreaterThan(8);
    expect(Math.exp(pilot)).toBeLessThan(60);
    expect(Math.exp(-nurse)).toBeGreaterThan(5);
    expect(Math.exp(-girl)).toBeGreaterThan(100);

    const noBias = await evaluate(masksFor(role('bias:')));
    figures.biasUnitsMasked = noBias.metrics;
    expect(Math.abs(noBias.metrics.stereotypePreference!)).toBeLessThan(0.15);
    expect(noBias.metrics.controlAccuracy).toBe(1);

    // The knowledge units carry the controls: without them the controls are near chance.
    const noKnowledge = await evaluate(masksFor(role('knowledge:')));
    figures.knowledgeUnitsMasked = noKnowledge.metrics;
    expect(noKnowledge.metrics.controlAccuracy!).toBeLessThan(0.75);
    expect(noKnowledge.metrics.stereotypePreference!).toBeGreaterThan(0.7);
  });

  it('CRISPR (attribution, confusion-weighted aggregation, ranking) puts the bias units on top; pruning the top 8 removes the bias, keeps the controls', async () => {
    const probes = items.filter((it) => it.label === null);
    const sc = await scoreOptions(
      folder,
      probes.map((it) => ({ prompt: it.fields.text, candidates: it.options })),
    );
    const attributor = new Attributor(attributionModel(folder));
    const res = await attributor.run(probes.map((it) => attributionExample(folder, it.fields.text, it.options[it.targetIndex!]!)));
    const instances: InstanceAttribution[] = probes.map((it, i) => {
      const p = sc[i]!.map((c) => Math.exp(c.logprob));
      const biased: Record<string, Float32Array> = {};
      for (const s of res.sites) biased[s.name] = s.values[i]!;
      return { instruction: 'frame', trial: 0, exampleId: it.id, confusion: p[it.targetIndex!]! / (p[0]! + p[1]!), biased, gold: null };
    });
    const ranking = rankNeurons(aggregate(instances));
    const key = (u: { site: string; unit: number }) => `${u.site}[${u.unit}]`;
    const rank = new Map(ranking.map((r, i) => [key(r), i + 1]));
    const biasRanks = role('bias:').map((u) => rank.get(key(u))!);
    figures.crisprBiasUnitRanks = biasRanks;
    figures.crisprTop10 = ranking.slice(0, 10).map((r) => `${key(r)} ${model.plantedUnits.find((u) => key(u) === key(r))?.role ?? ''}`.trim());
    expect(Math.max(...biasRanks)).toBeLessThanOrEqual(10);
    for (const u of role('knowledge:')) expect(rank.get(key(u))!).toBeGreaterThan(50);

    const widths = Object.fromEntries(folder.sites.map((s) => [s.name, s.width]));
    const pruned = await evaluate(masksForTopK(ranking, 8, widths));
    figures.crisprTop8Pruned = pruned.metrics;
    expect(Math.abs(pruned.metrics.stereotypePreference!)).toBeLessThan(0.15);
    expect(pruned.metrics.controlAccuracy).toBe(1);
  });
});
