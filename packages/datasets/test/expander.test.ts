import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBbqFile, parseBbqJsonl } from '../src/bbq/loader.js';
import { expandTemplates, malformedSlot, slotText, toBbqJsonl } from '../src/bbq/expander.js';
import { expansionCoverage } from '../src/bbq/coverage.js';
import { parseGroupList, parseSlotLists, readTemplateSet } from '../src/bbq/templates.js';
import { BBQ_DATA, BBQ_TEMPLATES, HAVE_BBQ_DATA, HAVE_BBQ_TEMPLATES, SKIP_REASON } from './helpers.js';

describe('template cell helpers', () => {
  it('parses slot lists, including a semicolon inside brackets and a reversed order', () => {
    expect(parseSlotLists('NAME1: [grandson, granddaughter]; NAME2: [grandfather]', 'x')).toEqual({
      NAME1: ['grandson', 'granddaughter'],
      NAME2: ['grandfather'],
    });
    expect(parseSlotLists('{{NAME1}}: [deaf person; hard-of-hearing person]; {{NAME2}}: [bartender, welder]', 'x')).toEqual({
      NAME1: ['deaf person', 'hard-of-hearing person'],
      NAME2: ['bartender', 'welder'],
    });
    expect(parseSlotLists('NAME2: [a]; NAME1: [b, c]', 'x')).toEqual({ NAME1: ['b', 'c'], NAME2: ['a'] });
    expect(() => parseSlotLists('NAME1 = a, b', 'T.csv:3')).toThrow(/T.csv:3: cannot read slot list/);
    expect(parseGroupList('["Indian",\n"Pakistani",\n"Sri Lankan"]', 'x')).toEqual(['Indian', 'Pakistani', 'Sri Lankan']);
    expect(parseGroupList("['low SES']", 'x')).toEqual(['low SES']);
  });

  it('fills slots, repairs a/an only when a filler starts with a vowel, keeps "a European"', () => {
    expect(slotText('I saw a {{NAME1}} and a {{NAME2}} at the {{WORD1}}.', 'Iraqi', 'British', { w1: 'mall', w2: '' })).toBe(
      'I saw an Iraqi and a British at the mall.',
    );
    expect(slotText('I met a {{NAME1}} and a {{NAME2}}', 'Iraqi', 'European', null)).toBe('I met an Iraqi and a European');
    // Like BBQ's generator, a sentence-initial "A" is not repaired (the rule needs a space before it).
    expect(slotText('A {{NAME1}} came', 'Iraqi', 'Thai', null)).toBe('A Iraqi came');
    expect(slotText('a {{NAME1}} and a {{NAME2}} ate an apple', 'Thai', 'British', null)).toBe('a Thai and a British ate an apple');
    expect(slotText('the {{NAME1}} man', 'lesbian', 'gay', null)).toBe('the lesbian woman');
    expect(malformedSlot('The colleague with {[NAME1}} complains')).toContain('{[NAME1}}');
    expect(malformedSlot('the {{{NAME2}} man')).toBeNull();
  });
});

describe.skipIf(!HAVE_BBQ_TEMPLATES || !HAVE_BBQ_DATA)(
  `BBQ template expander${HAVE_BBQ_TEMPLATES && HAVE_BBQ_DATA ? '' : ` (skipped: ${SKIP_REASON})`}`,
  () => {
    // The six categories that have official files: every official item must be regenerable.
    // Measured: 100% on all six (Age 3680/3680, Disability_status 1556/1556, Nationality 3080/3080,
    // Physical_appearance 1576/1576, Religion 1200/1200, Sexual_orientation 864/864).
    const SIX = ['Age', 'Disability_status', 'Nationality', 'Physical_appearance', 'Religion', 'Sexual_orientation'];
    it('coverage of the official files by the exhaustive expansion', async () => {
      const lines: string[] = [];
      for (const cat of SIX) {
        const official = await loadBbqFile(join(BBQ_DATA, `${cat}.jsonl`));
        const r = await expansionCoverage(BBQ_TEMPLATES, cat, official.items);
        lines.push(`${cat}: ${r.covered}/${r.official} (${(100 * r.rate).toFixed(2)}%), searched ${r.expanded}`);
        expect(r.official).toBe(official.items.length);
        expect(r.rate, `${cat} misses:\n${r.misses.slice(0, 5).join('\n')}`).toBeGreaterThanOrEqual(0.99);
        expect(r.covered).toBe(r.official - r.misses.length);
      }
      console.log(`expander coverage\n  ${lines.join('\n  ')}`);
    });

    it('sample mode is seeded, valid BBQ, and sized like the official files', async () => {
      const a = await expandTemplates(BBQ_TEMPLATES, 'Religion', { seed: 3 });
      const b = await expandTemplates(BBQ_TEMPLATES, 'Religion', { seed: 3 });
      const c = await expandTemplates(BBQ_TEMPLATES, 'Religion', { seed: 4 });
      expect(toBbqJsonl(a)).toBe(toBbqJsonl(b));
      expect(toBbqJsonl(a)).not.toBe(toBbqJsonl(c));
      // Religion's templates give 1200 items with BBQ's downsampling, as the official file has.
      expect(a.length).toBe(1200);
      expect(a.map((r) => r.example_id)).toEqual(a.map((_, i) => i));
    });

    it('SES, Race_ethnicity and Gender_identity expand to valid items with unknown and target set', async () => {
      const underived: Record<string, number> = {};
      for (const cat of ['SES', 'Race_ethnicity', 'Gender_identity']) {
        const recs = await expandTemplates(BBQ_TEMPLATES, cat, { seed: 11 });
        const r = parseBbqJsonl(toBbqJsonl(recs), `${cat}.jsonl`);
        expect(r.skipped).toEqual([]);
        expect(r.items.length).toBe(recs.length);
        expect(r.items.length % 4).toBe(0);
        for (const it of r.items) {
          expect(it.category).toBe(cat);
          expect(it.fields.context).not.toMatch(/\{\{|\}\}/);
          if (it.condition === 'ambig') expect(it.label).toBe(it.unknownIndex);
        }
        underived[cat] = r.underivedTarget.length;
        // The four variants of a filled template.
        expect(r.items.slice(0, 4).map((i) => `${i.polarity}/${i.condition}`)).toEqual(['neg/ambig', 'neg/disambig', 'nonneg/ambig', 'nonneg/disambig']);
      }
      // Only Gender_identity Q13 (no subcategory, so "a man or a boy" pairs with no woman or girl)
      // has items without a stereotyped target; they are listed, not guessed.
      expect(underived.SES).toBe(0);
      expect(underived.Race_ethnicity).toBe(0);
      expect(underived.Gender_identity).toBeGreaterThan(0);
      const g = parseBbqJsonl(toBbqJsonl(await expandTemplates(BBQ_TEMPLATES, 'Gender_identity', { seed: 11 })), 'g');
      const bad = g.items.filter((i) => i.targetIndex === null);
      expect(new Set(bad.map((i) => i.meta.question_index))).toEqual(new Set(['13']));
      // Each such pair is same-gender: man/boy (no F at all) or woman/girl (both F, so both match).
      for (const i of bad) {
        const people = i.options.filter((_, k) => k !== i.unknownIndex).join(' ');
        expect(/\b(woman|girl)\b/.test(people) && /\b(man|boy)\b/.test(people)).toBe(false);
      }
    });

    it('slot labels stay with their slot on a flip (Gender_identity 36: "NAME1, who is trans")', async () => {
      const recs = await expandTemplates(BBQ_TEMPLATES, 'Gender_identity', { seed: 5 });
      const q36 = parseBbqJsonl(toBbqJsonl(recs.filter((r) => r.question_index === '36')), 'g36').items;
      expect(q36.length).toBeGreaterThan(0);
      for (const it of q36) {
        const transName = it.fields.context!.match(/^(\w+), who is trans/)![1]!;
        const t = it.options.indexOf(transName);
        expect(it.targetIndex).toBe(t);
        expect((it.meta.answer_info as Record<string, [string, string]>)[`ans${t}`]![1]).toMatch(/^trans_[FM]$/);
      }
    });

    it('skips a row with a malformed slot and says so; rejects intersectional categories', async () => {
      const warnings: string[] = [];
      await expandTemplates(BBQ_TEMPLATES, 'Disability_status', { onWarning: (w) => warnings.push(w) });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/Disability_status\.csv:\d+ \(Q_id 19\): skipped.*\{\[NAME1\}\}/);
      await expect(readTemplateSet(BBQ_TEMPLATES, 'Race_x_SES')).rejects.toThrow(/intersectional/);
      await expect(expandTemplates(BBQ_TEMPLATES, 'Nationality', { mode: 'exhaustive', maxItems: 1000 })).rejects.toThrow(/exceeds 1000 items/);
    });
  },
);
