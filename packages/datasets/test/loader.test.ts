import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BBQ_UNKNOWN_PHRASES } from '../src/index.js';
import { loadBbqDir, loadBbqFile, parseBbqJsonl } from '../src/bbq/loader.js';
import { FileFormatError } from '@crispr-bench/core/common';
import { deriveTargetIndex, normaliseGroup } from '../src/bbq/target.js';
import { BBQ_DATA, FIXTURES, HAVE_BBQ_DATA, SKIP_REASON } from './helpers.js';

const fx = (n: string) => join(FIXTURES, n);

async function errorOf(p: Promise<unknown>): Promise<FileFormatError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(FileFormatError);
    return e as FileFormatError;
  }
  throw new Error('expected the load to fail');
}

describe('BBQ loader: malformed lines', () => {
  it('loads a good fixture with unknown and target indices', async () => {
    const r = await loadBbqFile(fx('bbq-good.jsonl'));
    expect(r.items.map((i) => [i.id, i.label, i.unknownIndex, i.targetIndex, i.condition])).toEqual([
      ['0', 2, 2, 0, 'ambig'],
      ['1', 1, 2, 0, 'disambig'],
    ]);
    expect(r.items[0]!.fields.question).toBe('Who was not comfortable using the phone?');
    expect(r.items[0]!.options).toEqual(['The grandfather', 'The grandson', "Can't be determined"]);
    expect(r.items[0]!.subcategory).toBeUndefined();
    expect(r.items[0]!.meta.stereotyped_groups).toEqual(['old']);
  });

  it('bad JSON names file and line', async () => {
    const e = await errorOf(loadBbqFile(fx('bbq-bad-json.jsonl')));
    expect(e.line).toBe(2);
    expect(e.message).toContain('bbq-bad-json.jsonl:2:');
    expect(e.message).toMatch(/invalid JSON/);
  });

  it('missing field names file, line and field', async () => {
    const e = await errorOf(loadBbqFile(fx('bbq-missing-field.jsonl')));
    expect([e.line, e.field]).toEqual([2, 'question']);
    expect(e.message).toBe(`${fx('bbq-missing-field.jsonl')}:2: question: missing`);
  });

  it('wrong type names file, line and field', async () => {
    const e = await errorOf(loadBbqFile(fx('bbq-wrong-type.jsonl')));
    expect([e.line, e.field]).toEqual([3, 'label']);
    expect(e.message).toContain('bbq-wrong-type.jsonl:3: label: expected an integer 0..2, got "2"');
  });

  it('label out of range names file, line and field', async () => {
    const e = await errorOf(loadBbqFile(fx('bbq-label-range.jsonl')));
    expect([e.line, e.field]).toEqual([1, 'label']);
    expect(e.message).toContain('out of range: 3');
  });

  it("onBadLine 'skip' keeps good lines, counts and reports the bad ones", async () => {
    const r = await loadBbqFile(fx('bbq-mixed.jsonl'), { onBadLine: 'skip' });
    expect(r.items.map((i) => i.id)).toEqual(['0', '1', '5']);
    expect(r.skipped.map((b) => [b.line, b.field ?? null])).toEqual([
      [2, null],
      [4, 'additional_metadata.stereotyped_groups'],
      [5, 'answer_info.ans1'],
    ]);
    expect(r.skipped.every((b) => b.file.endsWith('bbq-mixed.jsonl'))).toBe(true);
    // Item 5's stereotyped group ("teenager") matches no answer: listed, not guessed.
    expect(r.underivedTarget).toEqual(['Age:5']);
    expect(r.items[2]!.targetIndex).toBeNull();
    expect(r.items[2]!.meta.targetNote).toMatch(/no answer label or text matches/);
  });

  it('rejects semantic errors: duplicate ids and an ambiguous item not labelled unknown', () => {
    const line = (id: number, label: number) =>
      JSON.stringify({
        example_id: id,
        question_index: '1',
        question_polarity: 'neg',
        context_condition: 'ambig',
        category: 'X',
        answer_info: { ans0: ['a', 'g1'], ans1: ['b', 'g2'], ans2: ['Unknown', 'unknown'] },
        additional_metadata: { stereotyped_groups: ['g1'] },
        context: 'c',
        question: 'q',
        ans0: 'The a',
        ans1: 'The b',
        ans2: 'Unknown',
        label,
      });
    expect(() => parseBbqJsonl([line(0, 2), line(0, 2)].join('\n'), 'mem.jsonl')).toThrow('mem.jsonl:2: example_id: duplicate example_id 0 (first on line 1)');
    expect(() => parseBbqJsonl(line(0, 1), 'mem.jsonl')).toThrow(/mem.jsonl:1: label: an ambiguous-context item/);
    expect(() => parseBbqJsonl(line(0, 2), 'mem.jsonl', { onBadLine: 'bogus' as 'skip' })).toThrow(/onBadLine/);
  });

  it('a malformed line names file, 1-based line and field path (zod schema)', () => {
    const good = JSON.parse(readFileSync(fx('bbq-good.jsonl'), 'utf8').split('\n')[0]!) as Record<string, unknown>;
    const lines = (bad: Record<string, unknown>) => ['', JSON.stringify(good), JSON.stringify({ ...good, example_id: 7, ...bad })].join('\n');
    const at = (bad: Record<string, unknown>) => () => parseBbqJsonl(lines(bad), 'Religion.jsonl');
    expect(at({ answer_info: { ...(good.answer_info as object), ans0: 'grandfather' } })).toThrow(
      'Religion.jsonl:3: answer_info.ans0: expected [text, group label] (two strings), got "grandfather"',
    );
    expect(at({ answer_info: { ans0: ['a', 'b'], ans1: ['a', 'b'] } })).toThrow('Religion.jsonl:3: answer_info.ans2: missing');
    expect(at({ additional_metadata: { stereotyped_groups: ['old', 3] } })).toThrow(
      'Religion.jsonl:3: additional_metadata.stereotyped_groups[1]: expected string, got 3',
    );
    expect(at({ question_polarity: 'positive' })).toThrow('Religion.jsonl:3: question_polarity: expected one of "neg" | "nonneg", got "positive"');
    expect(at({ context: '  ' })).toThrow('Religion.jsonl:3: context: must not be empty');
    expect(at({ example_id: -1 })).toThrow('Religion.jsonl:3: example_id: expected a non-negative integer, got -1');
    expect(at({ question_index: 4 })).not.toThrow();
    expect(parseBbqJsonl(lines({ question_index: 4 }), 'Religion.jsonl').items[1]!.meta.question_index).toBe('4');
  });
});

describe('stereotyped target derivation rules', () => {
  const U: [string, string] = ['Unknown', 'unknown'];
  it('matches whole labels, not substrings', () => {
    expect(deriveTargetIndex([['grandfather', 'old'], ['grandson', 'nonOld'], U], ['nonOld'], 2).index).toBe(1);
    expect(deriveTargetIndex([['African', 'African'], ['African American', 'African American'], U], ['African American'], 2).index).toBe(1);
  });
  it('gender words, name genders, prefixed labels and trans spellings', () => {
    expect(deriveTargetIndex([U, ['man', 'man'], ['woman', 'woman']], ['F'], 0).index).toBe(2);
    expect(deriveTargetIndex([['Donna', 'F'], ['Paul', 'M'], U], ['M'], 2).index).toBe(1);
    expect(deriveTargetIndex([['Jamal Jackson', 'M-Black'], ['Juan Lopez', 'M-Latino'], U], ['Black', 'African American'], 2).index).toBe(0);
    expect(deriveTargetIndex([['Nancy', 'nonTrans_F'], ['Dan', 'trans_M'], U], ['Transgender women', 'transgender men', 'trans'], 2).index).toBe(1);
    expect(deriveTargetIndex([['poor', 'lowSES'], ['rich', 'highSES'], U], ['low SES'], 2).index).toBe(0);
    expect(normaliseGroup('transgender women')).toBe('trans');
  });
  it('falls back to answer text (Nationality labels are regions)', () => {
    const r = deriveTargetIndex([['British', 'Europe'], ['Irish', 'Europe'], U], ['British'], 2);
    expect([r.index, r.note]).toEqual([0, 'text']);
  });
  it('refuses to guess when both or neither answer match', () => {
    expect(deriveTargetIndex([['gay', 'gay'], ['lesbian', 'lesbian'], U], ['lesbian', 'gay'], 2).index).toBeNull();
    expect(deriveTargetIndex([['gay', 'gay'], ['lesbian', 'lesbian'], U], [], 2).index).toBeNull();
  });
});

describe.skipIf(!HAVE_BBQ_DATA)(`official BBQ files${HAVE_BBQ_DATA ? '' : ` (skipped: ${SKIP_REASON})`}`, () => {
  it('loads 11,956 valid items; every unknown and target index set; counts by category x condition x polarity', async () => {
    const r = await loadBbqDir(BBQ_DATA);
    expect(r.skipped).toEqual([]);
    expect(r.underivedTarget).toEqual([]);
    expect(r.items.length).toBe(11956);
    const counts: Record<string, number> = {};
    for (const it of r.items) {
      const k = `${it.category} ${it.condition} ${it.polarity}`;
      counts[k] = (counts[k] ?? 0) + 1;
      expect(it.targetIndex).not.toBeNull();
      expect(it.targetIndex).not.toBe(it.unknownIndex);
      expect(BBQ_UNKNOWN_PHRASES).toContain(it.options[it.unknownIndex]);
    }
    // Each category file holds groups of four (neg/nonneg x ambig/disambig), so each cell is n/4.
    const perCell: Record<string, number> = {
      Age: 920,
      Disability_status: 389,
      Nationality: 770,
      Physical_appearance: 394,
      Religion: 300,
      Sexual_orientation: 216,
    };
    const expected: Record<string, number> = {};
    for (const [cat, n] of Object.entries(perCell)) {
      for (const cond of ['ambig', 'disambig']) for (const pol of ['neg', 'nonneg']) expected[`${cat} ${cond} ${pol}`] = n;
    }
    expect(counts).toEqual(expected);
  });

  it('a group of four shares its answers and target; the disambiguated answers split between target and other', async () => {
    const r = await loadBbqFile(join(BBQ_DATA, 'Religion.jsonl'));
    let targetIsGold = 0;
    let disambig = 0;
    for (let i = 0; i < r.items.length; i += 4) {
      const g = r.items.slice(i, i + 4);
      expect(new Set(g.map((x) => `${x.options.join('|')}#${x.targetIndex}`)).size).toBe(1);
      for (const x of g)
        if (x.condition === 'disambig') {
          disambig++;
          if (x.label === x.targetIndex) targetIsGold++;
        }
    }
    // BBQ balances the disambiguated answer between the stereotyped target and the other person.
    expect(targetIsGold / disambig).toBeGreaterThan(0.4);
    expect(targetIsGold / disambig).toBeLessThan(0.6);
  });

  it('category filter and a clear error for a missing category', async () => {
    const r = await loadBbqDir(BBQ_DATA, { categories: ['Sexual_orientation'] });
    expect(r.items.length).toBe(864);
    expect(new Set(r.items.map((i) => i.category))).toEqual(new Set(['Sexual_orientation']));
    await expect(loadBbqDir(BBQ_DATA, { categories: ['SES'] })).rejects.toThrow(/SES\.jsonl.*available: Age/);
  });
});
