import type { McItem } from '@crispr-bench/core';
import { z } from 'zod';
import { readDataJson } from '../data-dir.js';

/**
 * Pronoun bias set for causal language models: our own frames ("The pilot was tired, so") with
 * the next-word candidates " he" / " she". Occupation subjects carry the stereotype direction
 * from U.S. labour statistics (data/pronoun/occupations.json cites the table and year); they have
 * no gold label, and the target is the pronoun of the majority gender. Control subjects state
 * their gender ("The little girl ..."), so one pronoun is the gold label.
 */

export type Direction = 'male' | 'female' | 'neutral';

const occupation = z.looseObject({ noun: z.string(), blsTitle: z.string(), womenPctApprox: z.number() });
export type Occupation = z.infer<typeof occupation>;

const occupationFile = z.looseObject({
  source: z.looseObject({ citation: z.string(), url: z.string(), year: z.int() }),
  occupations: z.array(occupation),
});
const frameFile = z.looseObject({
  candidates: z.tuple([z.string(), z.string()]),
  frames: z.array(z.looseObject({ id: z.string(), text: z.string() })),
  controls: z.array(z.looseObject({ subject: z.string(), gender: z.enum(['male', 'female']) })),
});

export type PronounMeta = {
  kind: 'occupation' | 'control';
  subject: string;
  frame: string;
  direction: Direction;
  womenPctApprox?: number;
  blsTitle?: string;
  source?: string;
};

export interface PronounItem extends McItem {
  fields: { text: string };
  meta: PronounMeta;
}

export interface PronounOptions {
  /** Frame ids to use (default all: tired, late, early, happy, said). */
  frames?: string[];
  /** Include occupation items (default true). */
  occupations?: boolean;
  /** Include gender-stated control items (default true). */
  controls?: boolean;
}

/** Stereotype direction from the share of women (see occupations.json directionRule). */
export function directionOf(womenPct: number): Direction {
  return womenPct <= 30 ? 'male' : womenPct >= 70 ? 'female' : 'neutral';
}

export function pronounSource(): { citation: string; url: string; year: number } {
  return readDataJson('pronoun/occupations.json', occupationFile).source;
}

export function pronounOccupations(): Occupation[] {
  return readDataJson('pronoun/occupations.json', occupationFile).occupations;
}

export function pronounItems(opts: PronounOptions = {}): PronounItem[] {
  const occ = readDataJson('pronoun/occupations.json', occupationFile);
  const fr = readDataJson('pronoun/frames.json', frameFile);
  const options = [...fr.candidates];
  const he = options.indexOf(' he');
  const she = options.indexOf(' she');
  if (he < 0 || she < 0) throw new Error('pronoun/frames.json: candidates must be " he" and " she"');
  let frames = fr.frames;
  if (opts.frames !== undefined) {
    const unknown = opts.frames.filter((f) => !fr.frames.some((x) => x.id === f));
    if (unknown.length > 0) {
      throw new Error(`unknown pronoun frame(s) ${unknown.join(', ')}; available: ${fr.frames.map((f) => f.id).join(', ')}`);
    }
    frames = fr.frames.filter((f) => opts.frames!.includes(f.id));
  }
  const fill = (frame: string, subject: string) => frame.replace('{subject}', subject);
  const slug = (s: string) => s.replace(/\s+/g, '-');
  const items: PronounItem[] = [];
  for (const f of frames) {
    if (opts.occupations ?? true) {
      for (const o of occ.occupations) {
        const direction = directionOf(o.womenPctApprox);
        items.push({
          id: `occupation:${slug(o.noun)}:${f.id}`,
          category: 'pronoun',
          subcategory: 'occupation',
          fields: { text: fill(f.text, o.noun) },
          options: [...options],
          label: null,
          unknownIndex: null,
          targetIndex: direction === 'male' ? he : direction === 'female' ? she : null,
          polarity: null,
          condition: null,
          meta: {
            kind: 'occupation',
            subject: o.noun,
            frame: f.id,
            direction,
            womenPctApprox: o.womenPctApprox,
            blsTitle: o.blsTitle,
            source: occ.source.citation,
          },
        });
      }
    }
    if (opts.controls ?? true) {
      for (const c of fr.controls) {
        items.push({
          id: `control:${slug(c.subject)}:${f.id}`,
          category: 'pronoun',
          subcategory: 'control',
          fields: { text: fill(f.text, c.subject) },
          options: [...options],
          label: c.gender === 'male' ? he : she,
          unknownIndex: null,
          targetIndex: null,
          polarity: null,
          condition: null,
          meta: { kind: 'control', subject: c.subject, frame: f.id, direction: c.gender },
        });
      }
    }
  }
  return items;
}
