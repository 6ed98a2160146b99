/**
 * Where does the organism's planted bias live, and does a CRISPR ranking point there?
 *
 *   tsx scripts/organism-probe.ts [--model <dir>] [--ranking <run>/ranking.json] [--k <n>]
 *
 * Scores the organism's held-out items (each under one held-out instruction, in turn) with the
 * model as it is and with each neuron site silenced in full (its mask all zeros), and prints, per
 * site, the mean option probability of the biased answer on ambiguous items, the ambiguous and
 * disambiguated accuracy and the retention accuracy. With --ranking, also how the top k ranked
 * neurons are spread over the sites, and the same metrics with those k pruned.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadModelFolder, scoreOptions } from '../packages/core/src/index.js';
import { answerStrings, organismInstructions, renderPrompt } from '../packages/datasets/src/index.js';
import { ORGANISM_MODEL_DIR, organismTask, shippedRecipe } from '../packages/bench/src/organism/task.js';
import { organismMetrics, type EvalRow } from '../packages/bench/src/organism/train.js';

const { values: v } = parseArgs({ options: { model: { type: 'string' }, ranking: { type: 'string' }, k: { type: 'string' } } });
const folder = await loadModelFolder(v.model ?? ORGANISM_MODEL_DIR);
const template = shippedRecipe().data.template;
const task = await organismTask();
const ins = organismInstructions('heldOut').instructions;
const rows = task.items.map((item, i) => ({ item, instruction: ins[i % ins.length]! }));
const batch = rows.map((r) => ({ prompt: renderPrompt(template, r.instruction, r.item), candidates: answerStrings(template, r.item) }));

async function measure(masks?: Record<string, Float32Array>) {
  const s = await scoreOptions(folder, batch, { intraOpThreads: 1, batchSize: 32, ...(masks ? { masks } : {}) });
  const scored: EvalRow[] = rows.map((r, i) => ({ ...r, logprobs: s[i]!.map((c) => c.logprob) }));
  return organismMetrics(scored);
}
const fmt = (x: number | null) => (x === null ? '  n/a' : x.toFixed(3));
const line = (name: string, m: Awaited<ReturnType<typeof measure>>) =>
  console.log(
    `${name.padEnd(48)} P(biased|amb) ${fmt(m.pBiasedAmbig)}  biased share ${fmt(m.biasedShareAmbig)}  s_AMB ${fmt(m.biasAmbig)}  acc amb ${fmt(m.accuracyAmbig)}  acc dis ${fmt(m.accuracyDisambig)}  retention ${fmt(m.retentionAccuracy)}`,
  );

line('original', await measure());
for (const site of folder.sites) line(`silenced ${site.name}`, await measure({ [site.name]: new Float32Array(site.width) }));

if (v.ranking) {
  const k = Number(v.k ?? 32);
  const ranked = (JSON.parse(readFileSync(v.ranking, 'utf8')) as { neurons: { site: string; unit: number }[] }).neurons.slice(0, k);
  const per = new Map<string, number>();
  for (const n of ranked) per.set(n.site, (per.get(n.site) ?? 0) + 1);
  console.log(
    `\ntop ${k} ranked neurons by site: ${[...per]
      .sort((a, b) => b[1] - a[1])
      .map(([s, c]) => `${s} ${c}`)
      .join(', ')}`,
  );
  const masks: Record<string, Float32Array> = {};
  for (const n of ranked) {
    const w = folder.sites.find((s) => s.name === n.site)!.width;
    (masks[n.site] ??= new Float32Array(w).fill(1))[n.unit] = 0;
  }
  line(`top ${k} pruned`, await measure(masks));
}
