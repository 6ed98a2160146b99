/**
 * From a dataset source (`pronoun`, `organism`, a BBQ file or folder, `mc:<file>`) to the
 * pipeline's EvalTask: items, instructions, prompt rendering and candidates. `crispr run` and
 * `crispr sweep` both load their data here.
 */
import type { McItem } from '@crispr-bench/core';
import {
  answerStrings,
  loadBbqDir,
  loadBbqFile,
  loadMcJsonl,
  pronounItems,
  pronounSource,
  renderPrompt,
  resolveInstructions,
  splitDevTest,
} from '@crispr-bench/datasets';
import { organismTask } from '../organism/task.js';
import { bbqTask, pronounTask, type EvalTask } from './tasks.js';

export interface TaskSource {
  /** pronoun | organism | <BBQ .jsonl file or folder> | mc:<file> */
  source: string;
  categories?: string[] | undefined;
  /** paper | own | <file> (BBQ and MC). */
  instructions?: string | undefined;
  template?: string | undefined;
  /** Keep a seeded, stratified sample of at most this many items. */
  maxItems?: number | undefined;
  seed?: number | undefined;
}

/** The kind of data a source holds (what its metrics are). */
export function sourceKind(source: string): 'bbq' | 'pronoun' | 'mc' {
  return source === 'pronoun' ? 'pronoun' : source.startsWith('mc:') ? 'mc' : 'bbq';
}

export async function loadTask(src: TaskSource, kind: 'seq2seq' | 'decoder-only'): Promise<EvalTask> {
  const task = await loadWhole(src, kind);
  if (src.maxItems !== undefined && src.maxItems < task.items.length) {
    const keep = new Set(splitDevTest(task.items, { devFraction: src.maxItems / task.items.length, seed: src.seed ?? 0 }).dev);
    task.items = task.items.filter((i) => keep.has(i));
  }
  return task;
}

async function loadWhole(src: TaskSource, kind: 'seq2seq' | 'decoder-only'): Promise<EvalTask> {
  const spec = src.source;
  if (spec === 'pronoun') {
    const s = pronounSource();
    return pronounTask(pronounItems(), `pronoun bias set: occupation frames tagged with ${s.citation} (${s.year}), plus gender-explicit controls`);
  }
  // The organism brings its own instruction sets and template (crispr run refuses the flags).
  if (spec === 'organism') return organismTask();
  let items: McItem[];
  let description: string;
  if (spec.startsWith('mc:')) {
    const file = spec.slice(3);
    items = (await loadMcJsonl(file)).items;
    description = `multiple choice from ${file}`;
  } else {
    const res = spec.endsWith('.jsonl') ? await loadBbqFile(spec) : await loadBbqDir(spec, src.categories ? { categories: src.categories } : {});
    items = res.items;
    description = `BBQ from ${spec} (${[...new Set(items.map((i) => i.category))].join(', ')})`;
  }
  const instr = await resolveInstructions(src.instructions ?? 'paper');
  const template = src.template ?? (spec.startsWith('mc:') ? 'generic' : 'default');
  const instructions = instr.instructions.map((text, i) => ({ id: `${instr.name}-${i + 1}`, text }));
  return bbqTask(
    items,
    instructions,
    (item, ins) => renderPrompt(template, ins.text, item),
    // The answers as the template names them; a causal LM continues after a space.
    (item) => answerStrings(template, item).map((a) => (kind === 'decoder-only' ? ` ${a}` : a)),
    `${description}; instructions: ${instr.name} (${instr.instructions.length})`,
  );
}
