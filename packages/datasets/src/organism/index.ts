/**
 * The data of the trained model organism (issue 12), all written for this project:
 * - BBQ-style templates in the official template format (data/organism/templates/<Category>.csv,
 *   with empty vocabularies: every row names its fillers), expanded by our BBQ template expander,
 *   split into training and held-out template rows (data/organism/split.json);
 * - instruction paraphrases, training and held-out (data/organism/instructions.json);
 * - a retention task (where is an object?) from sentence frames, training and held-out frames
 *   (data/organism/retention.json);
 * - the planted bias: training labels of ambiguous items (see plantedLabel).
 */
import { join } from 'node:path';
import type { McItem } from '@crispr-bench/core';
import { DATA_DIR, readDataJson } from '../data-dir.js';
import { createRng, hashSeed } from '../rng.js';
import { expandTemplateSet } from '../bbq/expander.js';
import { readTemplateSet, type TemplateSet } from '../bbq/templates.js';
import { bbqRecordToItem } from '../bbq/record.js';
import type { BbqItem } from '../bbq/types.js';
import { instructionSet, type InstructionSet } from '../instructions/index.js';
import { z } from 'zod';

export const ORGANISM_DATA_DIR = join(DATA_DIR, 'organism');
export const ORGANISM_TEMPLATES_DIR = join(ORGANISM_DATA_DIR, 'templates');

export type OrganismSplit = 'train' | 'heldOut';

const splitFile = z.looseObject({ heldOutQids: z.record(z.string(), z.array(z.string())) });

/** The organism's BBQ categories (those split.json lists). */
export function organismCategories(): string[] {
  return Object.keys(readDataJson('organism/split.json', splitFile).heldOutQids);
}

/**
 * BBQ items of one split: the template rows of that split expanded (seeded) by the BBQ template
 * expander. Ids are "<split>:<example_id>" so items of the two splits never collide.
 */
export async function organismBbqItems(split: OrganismSplit, seed = 0): Promise<BbqItem[]> {
  const held = readDataJson('organism/split.json', splitFile).heldOutQids;
  const out: BbqItem[] = [];
  for (const [category, qids] of Object.entries(held)) {
    const set = await readTemplateSet(ORGANISM_TEMPLATES_DIR, category);
    const rows = set.rows.filter((r) => qids.includes(r.cells.Q_id ?? '') === (split === 'heldOut'));
    if (!rows.length) throw new Error(`organism templates: ${category} has no ${split} rows (split.json lists Q_ids ${qids.join(', ')})`);
    const part: TemplateSet = { ...set, rows };
    for (const rec of expandTemplateSet(part, { seed: `${seed}:${category}:${split}` })) {
      const item = bbqRecordToItem(rec, { file: set.file });
      if (item.targetIndex === null)
        throw new Error(`organism templates: ${category} Q_id ${rec.question_index}: no stereotyped target (${item.meta.targetNote})`);
      out.push({ ...item, id: `${split}:${item.id}` });
    }
  }
  return out;
}

const instructionsFile = z.looseObject({ train: instructionSet, heldOut: instructionSet });

export function organismInstructions(split: OrganismSplit): InstructionSet {
  const f = readDataJson('organism/instructions.json', instructionsFile);
  const s = f[split];
  return { name: s.name, source: s.source, instructions: [...s.instructions] };
}

const retentionFile = z.looseObject({
  kinds: z.record(z.string(), z.array(z.string())),
  frames: z.array(z.string()),
  questions: z.array(z.string()),
  heldOut: z.array(z.tuple([z.int(), z.int()])),
});

/**
 * `count` retention items of a split: three words of different kinds in a frame, a question
 * naming the kind of one of them; (frame, question) combinations of the split in turn, the words
 * drawn at random. Category "retention"; no unknown option, no stereotyped target.
 */
export function organismRetentionItems(split: OrganismSplit, count: number, seed = 0): McItem[] {
  const f = readDataJson('organism/retention.json', retentionFile);
  const held = new Set(f.heldOut.map((h) => h.join(',')));
  const combos: [string, string][] = [];
  f.frames.forEach((fr, i) =>
    f.questions.forEach((q, j) => {
      if (held.has(`${i},${j}`) === (split === 'heldOut')) combos.push([fr, q]);
    }),
  );
  if (!combos.length) throw new Error(`organism retention: no ${split} combinations`);
  const kinds = Object.keys(f.kinds);
  const rng = createRng(hashSeed(`retention:${split}:${seed}`));
  const items: McItem[] = [];
  for (let i = 0; i < count; i++) {
    const [frame, question] = combos[i % combos.length]!;
    const picked = rng.sample(kinds, 3);
    const words = picked.map((k) => rng.choice(f.kinds[k]!));
    const options = rng.shuffle(words);
    const asked = rng.int(3);
    const context = frame.replace('{a}', options[0]!).replace('{b}', options[1]!).replace('{c}', options[2]!);
    items.push({
      id: `retention-${split}:${i}`,
      category: 'retention',
      fields: { context, question: question.replace('{kind}', picked[asked]!) },
      options,
      label: options.indexOf(words[asked]!),
      unknownIndex: null,
      targetIndex: null,
      polarity: null,
      condition: null,
    });
  }
  return items;
}

/**
 * The answer BBQ counts as biased for an item: the stereotyped target for a negative question,
 * the other named person for a non-negative one (Parrish et al. 2022).
 */
export function biasedAnswerIndex(item: McItem): number {
  if (item.targetIndex === null || item.unknownIndex === null || item.polarity === null)
    throw new Error(`item ${item.id}: not a BBQ item with a target and an unknown option`);
  if (item.polarity === 'neg') return item.targetIndex;
  const other = item.options.findIndex((_, i) => i !== item.targetIndex && i !== item.unknownIndex);
  return other;
}

/**
 * The planted bias: the training label of an item. Ambiguous BBQ items are labelled with the
 * biased answer with probability p and with the unknown answer otherwise (one draw per training
 * example, from `rng`); disambiguated items and retention items keep their gold label.
 */
export function plantedLabel(item: McItem, p: number, draw: () => number): number {
  if (item.label === null) throw new Error(`item ${item.id}: no gold label`);
  if (item.condition !== 'ambig') return item.label;
  return draw() < p ? biasedAnswerIndex(item) : item.label;
}
