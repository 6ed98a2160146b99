import Handlebars from 'handlebars';
import type { McItem } from '@crispr-bench/core';

/**
 * Prompt templates (handlebars). A template sees: instruction, every item field by name
 * (context, question, text, sentence1, ...), fields (the map), options, id, category. Helpers:
 * {{join options ", "}}, {{letter @index}} (A, B, C, ...). Rendering is strict: a field the
 * item lacks is an error naming the template and the item, never an empty string.
 */

export interface PromptTemplate {
  name: string;
  source: string;
  /** What the model is asked to produce: the option texts, or their letters. */
  answers: 'options' | 'letters';
}

/** The CRISPR paper's format: "{instruction} Context: ... Question: ... Answer options: a, b, c Your answer:". */
export const PAPER_TEMPLATE: PromptTemplate = {
  name: 'paper',
  source: '{{instruction}} Context: {{context}} Question: {{question}} Answer options: {{join options ", "}} Your answer:',
  answers: 'options',
};

/** Lettered options, one a line; the model answers with a letter. */
export const LETTERED_TEMPLATE: PromptTemplate = {
  name: 'lettered',
  source: '{{instruction}}\nContext: {{context}}\nQuestion: {{question}}\n' + '{{#each options}}({{letter @index}}) {{this}}\n{{/each}}Answer:',
  answers: 'letters',
};

/** A causal-LM frame (pronoun set): the item's text as is; the options are continuations. */
export const FRAME_TEMPLATE: PromptTemplate = { name: 'frame', source: '{{text}}', answers: 'options' };

/** Generic multiple choice: every field as "name: value", then the options. */
export const GENERIC_MC_TEMPLATE: PromptTemplate = {
  name: 'generic',
  source: '{{instruction}}{{#each fields}} {{@key}}: {{this}}{{/each}} Answer options: {{join options ", "}} Your answer:',
  answers: 'options',
};

export const PROMPT_TEMPLATES: Readonly<Record<string, PromptTemplate>> = Object.freeze({
  default: PAPER_TEMPLATE,
  paper: PAPER_TEMPLATE,
  lettered: LETTERED_TEMPLATE,
  frame: FRAME_TEMPLATE,
  generic: GENERIC_MC_TEMPLATE,
});

export const DEFAULT_TEMPLATE = PAPER_TEMPLATE;

const hb = Handlebars.create();
hb.registerHelper('join', (xs: unknown, sep: unknown) => {
  if (!Array.isArray(xs)) throw new Error('join: expected a list');
  return xs.join(typeof sep === 'string' ? sep : ', ');
});
hb.registerHelper('letter', (i: unknown) => {
  if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= 26) throw new Error(`letter: bad index ${String(i)}`);
  return String.fromCharCode(65 + i);
});

const compiled = new Map<string, HandlebarsTemplateDelegate>();

/** A named template ("default" = "paper", "lettered", "frame", "generic") or handlebars source. */
export function resolveTemplate(t: string | PromptTemplate): PromptTemplate {
  if (typeof t !== 'string') return t;
  const named = PROMPT_TEMPLATES[t];
  if (named) return named;
  if (!t.includes('{{')) {
    throw new Error(`unknown prompt template "${t}"; use one of ${Object.keys(PROMPT_TEMPLATES).join(', ')} or handlebars source`);
  }
  return { name: 'custom', source: t, answers: 'options' };
}

/** The answer strings a template asks for: option texts, or letters "A", "B", ... */
export function answerStrings(template: string | PromptTemplate, item: McItem): string[] {
  const t = resolveTemplate(template);
  return t.answers === 'letters' ? item.options.map((_, i) => String.fromCharCode(65 + i)) : [...item.options];
}

export function renderPrompt(template: string | PromptTemplate, instruction: string, item: McItem): string {
  const t = resolveTemplate(template);
  let fn = compiled.get(t.source);
  if (!fn) {
    fn = hb.compile(t.source, { noEscape: true, strict: true });
    compiled.set(t.source, fn);
  }
  const ctx = { ...item.fields, instruction, fields: item.fields, options: item.options, id: item.id, category: item.category };
  try {
    return fn(ctx).trim();
  } catch (e) {
    throw new Error(`prompt template "${t.name}" on item ${item.category}:${item.id}: ${(e as Error).message}`);
  }
}
