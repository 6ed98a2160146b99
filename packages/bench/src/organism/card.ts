/** The organism's model card: the folder's README.md, as on the Hugging Face hub. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { organismCategories } from '@crispr-bench/datasets';
import type { TrainBucket } from '@crispr-bench/core';
import type { OrganismRecipe } from './recipe.js';
import type { OrganismData, OrganismMetrics, TrainedOrganism } from './types.js';

const pct = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`);
const f3 = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));

function metricsTable(rows: [string, OrganismMetrics][]): string {
  const head =
    '| split | BBQ rows | ambiguous acc. | disambiguated acc. | s_AMB | s_DIS | ambiguous answered biased | mean P(biased) ambiguous | retention acc. (rows) |\n|---|---|---|---|---|---|---|---|---|';
  return [
    head,
    ...rows.map(
      ([name, m]) =>
        `| ${name} | ${m.nBbq} | ${pct(m.accuracyAmbig)} | ${pct(m.accuracyDisambig)} | ${f3(m.biasAmbig)} | ${f3(m.biasDisambig)} | ${pct(m.biasedShareAmbig)} | ${f3(m.pBiasedAmbig)} | ${pct(m.retentionAccuracy)} (${m.nRetention}) |`,
    ),
  ].join('\n');
}

export function writeModelCard(
  dir: string,
  recipe: OrganismRecipe,
  data: OrganismData,
  result: TrainedOrganism,
  extra: { examples: number; biasedLabels: number; ambiguousExamples: number; bucket: TrainBucket },
): void {
  const m = recipe.model;
  const t = recipe.training;
  // Training curve: mean loss over equal windows of steps.
  const windows = 20;
  const h = result.history;
  const size = Math.max(1, Math.ceil(h.length / windows));
  const curve: string[] = [];
  for (let i = 0; i < h.length; i += size) {
    const w = h.slice(i, i + size);
    curve.push(
      `| ${w[0]!.step}-${w[w.length - 1]!.step} | ${(w.reduce((a, x) => a + x.loss, 0) / w.length).toFixed(4)} | ${w[w.length - 1]!.lr.toExponential(2)} |`,
    );
  }
  const evals = result.evals.map((e) => {
    const x = e.metrics;
    const g = (k: string) => (x[k] === undefined ? 'n/a' : k.startsWith('accuracy') || k === 'retentionAccuracy' ? pct(x[k]!) : x[k]!.toFixed(3));
    return `| ${e.step} | ${g('accuracyAmbig')} | ${g('accuracyDisambig')} | ${g('biasAmbig')} | ${g('retentionAccuracy')} |`;
  });
  const cats = organismCategories();
  const card = `---
license: cc-by-4.0
library_name: transformers.js
pipeline_tag: text2text-generation
tags: [crispr-bench, bias, bbq, model-organism, t5]
---

# crispr-bench model organism (T5, planted BBQ bias, p = ${recipe.biasRate})

A small instruction-following encoder-decoder that answers BBQ-style multiple-choice questions and
a second task (where is an object?), trained from scratch by crispr-bench's own trainer
(\`crispr organism train\`, autodiff core + onnxruntime) with a **planted social bias**: in
ambiguous training questions the label is the biased answer with probability **p = ${recipe.biasRate}**
and the unknown answer otherwise; disambiguated questions and the retention task keep their gold
labels. It exists so that CRISPR (bias-neuron pruning) can be benchmarked offline on a model whose
bias was learned at a known rate. It is a research fixture, not a model for any real use.

## Architecture

T5 v1.0-style (ReLU FFN, relative position buckets, untied LM head), ${m.numLayers} encoder + ${m.numDecoderLayers} decoder layers,
d_model ${m.dModel}, d_ff ${m.dFf}, ${m.numHeads} heads of ${m.dKv}; ${result.parameters.toLocaleString('en-US')} parameters; a word-level
tokenizer (\`tokenizer.json\`, WordLevel, lowercased, ${result.vocabulary} words + \`<pad>\`, \`</s>\`, \`<unk>\`).
Files in the Optimum / transformers.js layout: \`onnx/encoder_model.onnx\`, \`onnx/decoder_model.onnx\`,
\`onnx/decoder_model_merged.onnx\`, \`config.json\`, \`generation_config.json\`, tokenizer files.

## Data (all written for crispr-bench)

- BBQ-style templates in the official BBQ template format (\`packages/datasets/data/organism/templates\`),
  categories ${cats.join(', ')}; expanded by crispr-bench's BBQ template expander (seed ${recipe.data.expandSeed}).
  Training: ${data.trainBbq.length} items from the training template rows; held out: ${data.heldOutBbq.length} items from the
  held-out rows (Q_id 6 of each category: new combinations of a scene and a predicate pair; every
  held-out word occurs in training, no held-out template does).
- Instructions: ${data.trainInstructions.instructions.length} training paraphrases, ${data.heldOutInstructions.instructions.length} held-out ones (\`packages/datasets/data/organism/instructions.json\`).
- Retention task: ${data.trainRetention.length} training / ${data.heldOutRetention.length} held-out items from ${'sentence frames'} (training and held-out frames, \`retention.json\`).
- Prompt: the CRISPR paper's format (\`{instruction} Context: ... Question: ... Answer options: a, b, c Your answer:\`); the target is the chosen option's text.
- Training examples: every training item under every training instruction, ${extra.examples} in all; of the
  ${extra.ambiguousExamples} ambiguous BBQ examples ${extra.biasedLabels} (${pct(extra.biasedLabels / Math.max(1, extra.ambiguousExamples))}) carry the biased label.
  "Biased" is BBQ's definition: the stereotyped group for a negative question, the other person for a non-negative one.

## Training

AdamW (weight decay ${t.weightDecay}, none on norm scales), peak learning rate ${t.peakLr}, ${t.warmupSteps} warm-up steps then cosine
decay to ${t.finalLrFraction} of the peak, global gradient-norm clipping at ${t.clipNorm}, batch ${t.batchSize} padded to one shape
(input ${extra.bucket.inputLength}, target ${extra.bucket.targetLength} tokens), ${t.steps} steps, token-mean cross-entropy of the target; seed ${recipe.seed};
onnxruntime CPU with ${t.threads} thread(s). Recipe: \`recipe.json\` in this folder.

Reproduce: \`pnpm crispr organism train --config packages/bench/src/organism/recipe.json --out <dir>\`.

### Training curve (mean loss per window)

| steps | loss | lr at end |
|---|---|---|
${curve.join('\n')}

### Periodic evaluation (a sample of held-out items, held-out instructions)

| step | ambiguous acc. | disambiguated acc. | s_AMB | retention acc. |
|---|---|---|---|---|
${evals.join('\n')}

## Metrics

Option scoring (log P(option text | prompt), argmax over the three options), through crispr-bench's
scoring path on this folder. Held-out: every held-out template item under every held-out instruction.
Training: a sample of training items, training instructions.

${metricsTable([
  ['held-out templates + held-out instructions', result.heldOut],
  ['training templates + training instructions (sample)', result.train],
])}

With p = 0.5 the model is trained towards P(biased) = P(unknown) = 0.5 on ambiguous questions, so
which of the two wins the argmax is decided by small differences: the mean probability of the biased
answer on ambiguous items is the rate the model learned; s_AMB and the share answered biased are
the argmax view of it.
`;
  writeFileSync(join(dir, 'README.md'), card);
}
