import { BBQ_UNKNOWN_PHRASES } from './unknown-phrases.js';
import { createRng, type Rng } from '../rng.js';
import { parseGroupList, parseSlotLists, readTemplateSet, type NameEntry, type TemplateRow, type TemplateSet } from './templates.js';
import type { AnswerInfoEntry, BbqRecord } from './types.js';

/**
 * BBQ template expander: official template CSV + vocabulary -> BBQ JSONL records.
 *
 * It follows the generation procedure of the BBQ paper's public generator (nyu-mll/BBQ): which
 * vocabulary fills NAME1/NAME2 (template Names column, else the category vocabulary restricted to
 * the stereotyped groups, else proper names), argument-order flips, lexical-diversity WORD slots,
 * the "a"/"an" repair, one of ten unknown phrasings, shuffled answer order, and four items per
 * filled template: (neg, ambig), (neg, disambig), (nonneg, ambig), (nonneg, disambig).
 * The official files were drawn with unseeded random choices; here every draw comes from a
 * seeded Rng ("sample" mode, about the official size) or every choice is enumerated
 * ("exhaustive" mode, used to check that each official item can be regenerated).
 */

export type ExpandMode = 'sample' | 'exhaustive';

export interface ExpandOptions {
  /** Seed for every random draw (default 0). */
  seed?: number | string;
  /** 'sample' (default): BBQ-style downsampling. 'exhaustive': all slot fillers and word choices. */
  mode?: ExpandMode;
  /** Stop with an error past this many items (guards exhaustive runs on the proper-name templates). */
  maxItems?: number;
  /** Told about template rows that are skipped (e.g. a malformed slot such as "{[NAME1}}"). */
  onWarning?: (message: string) => void;
}

const TEXT_COLUMNS = [
  'Ambiguous_Context',
  'Disambiguating_Context',
  'Question_negative_stereotype',
  'Question_non_negative',
  'Answer_negative',
  'Answer_non_negative',
];

/** A malformed slot left in a template cell once the four valid slots are taken out, or null. */
export function malformedSlot(text: string): string | null {
  const rest = text.replace(/\{\{(NAME|WORD)[12]\}\}/g, '\u0000');
  const m = rest.match(/.{0,12}(\{\{|\}\}|\{\[|\]\}).{0,12}/);
  return m ? m[0].replaceAll('\u0000', '{{..}}') : null;
}

/** Categories whose templates pair a stereotyped group with non-stereotyped ones and flip the order. */
const TARGET_SUBSET_CATEGORIES = new Set(['Race_ethnicity', 'Religion', 'Nationality', 'Sexual_orientation']);

interface Filler {
  text: string;
  info: string | null;
  /** The proper-name row it came from (a first name can be listed under two ethnicities). */
  entry?: NameEntry;
}

function uniq(xs: string[]): string[] {
  return [...new Set(xs)];
}

/** Replaces the slots of one template cell the way the official generator does. */
export function slotText(t: string, w1: string, w2: string, lex: { w1: string; w2: string } | null): string {
  let s = t.replaceAll('{{NAME1}}', w1).replaceAll('{{NAME2}}', w2);
  if (lex) s = s.replaceAll('{{WORD1}}', lex.w1).replaceAll('{{WORD2}}', lex.w2);
  // Two known template slips, repaired by the generator too.
  s = s.replaceAll('lesbian man', 'lesbian woman').replaceAll('Latino woman', 'Latina woman');
  // "a" -> "an" before a vowel, only when one of the names starts with a vowel (as BBQ does).
  if (/^[aeiou]/.test(w1.toLowerCase()) || /^[aeiou]/.test(w2.toLowerCase())) {
    s = s.replace(/(\s[aA])(\s[aAeEiIoOuU])/g, '$1n$2').replaceAll(' an European', ' a European');
  }
  return s;
}

class Expansion {
  private readonly rng: Rng;
  private readonly exhaustive: boolean;
  private nn = 0;
  constructor(
    private readonly set: TemplateSet,
    private readonly opts: ExpandOptions,
  ) {
    this.rng = createRng(opts.seed ?? 0);
    this.exhaustive = (opts.mode ?? 'sample') === 'exhaustive';
  }

  /** k random elements when the list is longer than `over`, else all (exhaustive: always all). */
  private down<T>(xs: T[], over: number, k: number): T[] {
    return !this.exhaustive && xs.length > over ? this.rng.sample(xs, k) : xs;
  }
  /** One random element, or all of them in exhaustive mode. */
  private oneOrAll<T>(xs: T[]): T[] {
    return this.exhaustive ? xs : [this.rng.choice(xs)];
  }

  *rows(): Generator<BbqRecord[]> {
    for (const row of this.set.rows) {
      if ((row.cells.Ambiguous_Context ?? '') === '') continue;
      yield* this.row(row);
    }
  }

  private *row(row: TemplateRow): Generator<BbqRecord[]> {
    const { category: cat, vocab, names, columns } = this.set;
    const c = row.cells;
    const where = `${this.set.file}:${row.line} (Q_id ${c.Q_id})`;
    for (const col of TEXT_COLUMNS) {
      const bad = malformedSlot(c[col] ?? '');
      if (bad !== null) {
        this.opts.onWarning?.(`${where}: skipped, column ${col} has a malformed slot near ${JSON.stringify(bad)}`);
        return;
      }
    }
    const has = (col: string) => columns.includes(col);
    let words = vocab.filter((v) => v.category === cat);
    const possible = uniq(words.map((w) => w.name));
    const ksRaw = c.Known_stereotyped_groups ?? '';
    const targets = parseGroupList(ksRaw, where);
    const inSubset = TARGET_SUBSET_CATEGORIES.has(cat);
    const targeted = inSubset && ksRaw.length > 1 ? possible.filter((w) => targets.includes(w)) : possible;

    let list1: Filler[] = (targeted.length > 4 ? this.down(targeted, 4, 5) : possible.length < 2 ? [] : targeted).map((t) => ({ text: t, info: null }));
    const proper = has('Proper_nouns_only') && c.Proper_nouns_only === 'TRUE';

    let subcat = 'None';
    if (has('Subcategory') && (c.Subcategory ?? '').length > 1) {
      subcat = c.Subcategory!;
      words = words.filter((w) => w.subcat === subcat);
      list1 = this.down(uniq(words.map((w) => w.name)), 5, 5).map((t) => ({ text: t, info: null }));
    }
    let list2FromNames: Filler[] | null = null;
    if (has('Names') && (c.Names ?? '').length > 1) {
      const slots = parseSlotLists(c.Names!, `${where} Names`);
      list1 = (slots.NAME1 ?? []).map((t) => ({ text: t, info: null }));
      list2FromNames = (slots.NAME2 ?? []).map((t) => ({ text: t, info: null }));
    }

    const firstOnly = names.filter((n) => n.firstLast === 'first_only');
    const firstFull = names.filter((n) => n.firstLast === 'first');
    const lastOf = (eth: string) => uniq(names.filter((n) => n.firstLast === 'last' && n.ethnicity === eth).map((n) => n.name));
    const nameRow = (pool: typeof names, name: string) => {
      const n = pool.find((x) => x.name === name);
      if (!n) throw new Error(`${where}: name "${name}" not in vocabulary_proper_names.csv`);
      return n;
    };
    if (proper) {
      if (cat === 'Race_ethnicity') {
        const firstPool = targets.length >= 1 ? firstFull.filter((n) => targets.includes(n.ethnicity)) : firstFull;
        list1 = this.down(firstPool, 0, 5).map((n) => ({ text: n.name, info: null, entry: n }));
      } else if (cat === 'Gender_identity') {
        list1 = this.down(
          firstOnly.filter((n) => n.gender === 'F').map((n) => n.name),
          0,
          5,
        ).map((t) => ({ text: t, info: null }));
      } else {
        list1 = this.down(
          firstOnly.map((n) => n.name),
          0,
          6,
        ).map((t) => ({ text: t, info: null }));
      }
    }

    const lexRaw = c.Lexical_diversity ?? '';
    const lexSlots = lexRaw.length > 1 ? parseSlotLists(lexRaw, `${where} Lexical_diversity`) : null;
    const word1Choices = lexSlots?.WORD1 ?? [];
    const word2Choices = lexSlots?.WORD2 ?? [];
    const vocabInfo = (name: string): string => {
      const v = this.set.vocab.find((x) => x.name === name);
      if (!v) throw new Error(`${where}: "${name}" not in vocabulary.csv`);
      return v.info;
    };

    const tplInfo = (slot: 1 | 2) => (slot === 1 ? c.NAME1_info : c.NAME2_info) ?? '';
    const hasTplInfo = has('NAME1_info') && (c.NAME1_info ?? '') !== '';
    /**
     * The group label answer_info records for a filler in a slot. A label from the template's
     * NAME1_info/NAME2_info describes the slot (e.g. "who is trans" is written next to NAME1), so it
     * stays with the slot when the fillers are flipped; a label from the vocabulary or a proper
     * name describes the filler and moves with it. (The official generator swapped both on a flip,
     * which mislabels the few flipped templates that carry slot labels: SES 8, Gender_identity 35-36.)
     */
    const infoFor = (slot: 1 | 2, f: Filler): string => {
      if (cat === 'Race_ethnicity' && proper) return f.info!;
      if (cat === 'Gender_identity' && proper) {
        const g = f.info ?? nameRow(firstOnly, f.text).gender;
        return hasTplInfo ? `${tplInfo(slot)}_${g}` : g;
      }
      if (cat === 'Nationality' || (cat === 'SES' && subcat === 'Occupation')) return vocabInfo(f.text);
      if (hasTplInfo) return tplInfo(slot);
      return f.text;
    };

    for (const base1 of list1) {
      // Each first filler may expand (race proper names get a last name) and fixes its partners.
      const firsts: { w1: Filler; list2: Filler[] }[] = [];
      if (list2FromNames) {
        firsts.push({ w1: base1, list2: list2FromNames });
      } else if (cat === 'Race_ethnicity' && proper) {
        const n1 = base1.entry ?? nameRow(firstFull, base1.text);
        const others = this.down(
          firstFull.filter((n) => !targets.includes(n.ethnicity) && n.gender === n1.gender),
          0,
          5,
        );
        for (const last1 of this.oneOrAll(lastOf(n1.ethnicity))) {
          const list2: Filler[] = [];
          for (const o of others) {
            for (const last2 of this.oneOrAll(lastOf(o.ethnicity))) {
              list2.push({ text: `${o.name} ${last2}`, info: `${o.gender}-${o.ethnicity}` });
            }
          }
          firsts.push({ w1: { text: `${base1.text} ${last1}`, info: `${n1.gender}-${n1.ethnicity}` }, list2 });
        }
      } else if (cat === 'Gender_identity' && proper) {
        const g = nameRow(firstOnly, base1.text).gender;
        const list2 = this.down(
          firstOnly.filter((n) => n.gender !== g),
          0,
          5,
        ).map((n) => ({ text: n.name, info: n.gender }));
        firsts.push({ w1: { text: base1.text, info: g }, list2 });
      } else if (cat === 'SES' && !proper) {
        const w = words.find((x) => x.name === base1.text);
        if (!w) throw new Error(`${where}: "${base1.text}" not in the SES vocabulary`);
        const list2 = uniq(words.filter((x) => x.info !== w.info).map((x) => x.name)).map((t) => ({ text: t, info: null }));
        firsts.push({ w1: { text: base1.text, info: w.info }, list2 });
      } else if (targets.length > 0 && inSubset) {
        const list2 = this.down(
          possible.filter((p) => !targets.includes(p)),
          4,
          5,
        ).map((t) => ({ text: t, info: null }));
        firsts.push({ w1: base1, list2 });
      } else {
        firsts.push({ w1: base1, list2: list1.filter((x) => x.text !== base1.text) });
      }

      for (const { w1, list2 } of firsts) {
        for (const w2 of list2) {
          const lexChoices: ({ w1: string; w2: string } | null)[] = [];
          if (lexSlots) {
            if (word1Choices.length === 0) throw new Error(`${where}: Lexical_diversity has no WORD1 list`);
            for (const a of this.oneOrAll(word1Choices)) {
              for (const b of word2Choices.length > 0 ? this.oneOrAll(word2Choices) : ['']) lexChoices.push({ w1: a, w2: b });
            }
          } else lexChoices.push(null);

          const flip = inSubset || proper || (cat === 'SES' && subcat === 'Occupation');
          for (const lex of lexChoices) {
            yield this.fill(row, subcat, targets, w1.text, w2.text, infoFor(1, w1), infoFor(2, w2), lex);
            if (flip) yield this.fill(row, subcat, targets, w2.text, w1.text, infoFor(1, w2), infoFor(2, w1), lex);
          }
        }
      }
    }
  }

  /** One filled template -> its four items. */
  private fill(
    row: TemplateRow,
    subcat: string,
    targets: string[],
    w1: string,
    w2: string,
    info1: string,
    info2: string,
    lex: { w1: string; w2: string } | null,
  ): BbqRecord[] {
    const c = row.cells;
    const s = (col: string) => slotText(c[col] ?? '', w1, w2, lex);
    const ambig = s('Ambiguous_Context');
    const disambig = s('Disambiguating_Context');
    const qNeg = s('Question_negative_stereotype');
    const qNonNeg = s('Question_non_negative');
    const ansNeg = s('Answer_negative');
    const ansNonNeg = s('Answer_non_negative');
    const unknown = this.rng.choice(BBQ_UNKNOWN_PHRASES);
    const options = this.rng.shuffle([ansNeg, ansNonNeg, unknown]);
    const negAt = options.indexOf(ansNeg);
    const nonNegAt = options.indexOf(ansNonNeg);
    const unkAt = options.indexOf(unknown);

    // answer_info: which answer names which filler. The answer template's slot says it (every
    // official template names exactly one slot per answer); matching filler text inside the answer,
    // as the official generator does, mislabels pairs like "tattoos" / "no tattoos", so it is only
    // the fallback. " man" keeps "man" from matching "woman" there.
    const info: AnswerInfoEntry[] = [
      ['', ''],
      ['', ''],
      ['', ''],
    ];
    const bySlot = (tpl: string): 1 | 2 | null => {
      const a = tpl.includes('{{NAME1}}');
      const b = tpl.includes('{{NAME2}}');
      return a === b ? null : a ? 1 : 2;
    };
    const slotNeg = bySlot(c.Answer_negative ?? '');
    const slotNonNeg = bySlot(c.Answer_non_negative ?? '');
    if (slotNeg !== null && slotNonNeg !== null && slotNeg !== slotNonNeg) {
      info[negAt] = slotNeg === 1 ? [w1, info1] : [w2, info2];
      info[nonNegAt] = slotNonNeg === 1 ? [w1, info1] : [w2, info2];
    } else {
      const n1 = w1 === 'man' ? ' man' : w1;
      const n2 = w2 === 'man' ? ' man' : w2;
      for (const [n, inf] of [
        [n1, info1],
        [n2, info2],
      ] as const) {
        if (ansNeg.includes(n)) info[negAt] = [n.trimStart(), inf];
        if (ansNonNeg.includes(n)) info[nonNegAt] = [n.trimStart(), inf];
      }
    }
    info[unkAt] = [unknown, 'unknown'];

    const fullDisambig = `${ambig.trim()} ${disambig}`;
    const mk = (k: number, pol: 'neg' | 'nonneg', cond: 'ambig' | 'disambig', context: string, q: string, label: number): BbqRecord => ({
      example_id: this.nn + k,
      question_index: c.Q_id ?? '',
      question_polarity: pol,
      context_condition: cond,
      category: this.set.category,
      answer_info: { ans0: info[0]!, ans1: info[1]!, ans2: info[2]! },
      additional_metadata: {
        subcategory: subcat,
        stereotyped_groups: targets,
        version: this.set.columns.includes('version') ? (c.version ?? '') : 'None',
        source: s('Notes'),
      },
      context: context.trim(),
      question: q.trim(),
      ans0: options[0]!,
      ans1: options[1]!,
      ans2: options[2]!,
      label,
    });
    const out = [
      mk(0, 'neg', 'ambig', ambig, qNeg, unkAt),
      mk(1, 'neg', 'disambig', fullDisambig, qNeg, negAt),
      mk(2, 'nonneg', 'ambig', ambig, qNonNeg, unkAt),
      mk(3, 'nonneg', 'disambig', fullDisambig, qNonNeg, nonNegAt),
    ];
    this.nn += 4;
    return out;
  }
}

/** Streams the expansion of a template set, four records (one filled template) at a time. */
export function* iterateExpansion(set: TemplateSet, opts: ExpandOptions = {}): Generator<BbqRecord[]> {
  const max = opts.maxItems ?? Infinity;
  let n = 0;
  for (const group of new Expansion(set, opts).rows()) {
    n += group.length;
    if (n > max) {
      throw new Error(`expansion of ${set.category} exceeds ${max} items (mode ${opts.mode ?? 'sample'}); raise maxItems or use sample mode`);
    }
    yield group;
  }
}

/** Expands one category's templates into BBQ records (example ids 0..n-1). */
export function expandTemplateSet(set: TemplateSet, opts: ExpandOptions = {}): BbqRecord[] {
  const out: BbqRecord[] = [];
  for (const g of iterateExpansion(set, opts)) out.push(...g);
  return out;
}

/** Reads <templatesDir>/<category>.csv and the vocabularies, and expands them. */
export async function expandTemplates(templatesDir: string, category: string, opts: ExpandOptions = {}): Promise<BbqRecord[]> {
  return expandTemplateSet(await readTemplateSet(templatesDir, category), opts);
}

/** BBQ JSONL text for records (one JSON object a line, official key order). */
export function toBbqJsonl(records: readonly BbqRecord[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + (records.length > 0 ? '\n' : '');
}
