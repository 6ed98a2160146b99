import { describe, expect, it } from 'vitest';
import { judgePredictions, parsePredictions } from '../src/index.js';
import { bbqItem } from './helpers.js';

const items = [
  bbqItem('0', 'ambig', 'neg', 2, 0, { category: 'Age' }),
  bbqItem('1', 'disambig', 'neg', 1, 0, { category: 'Age' }),
  bbqItem('0', 'ambig', 'neg', 2, 0, { category: 'Religion' }),
  bbqItem('5', 'ambig', 'neg', 2, 0, { category: 'Religion' }),
];

describe('parsePredictions', () => {
  it('reads ids, categories and index or text values; skips blank lines', () => {
    const p = parsePredictions('{"example_id": 0, "category": "Age", "ans": 2}\n\n{"example_id": "1", "ans": "The grandson."}\r\n', 'p.jsonl', 'ans');
    expect(p).toEqual([
      { line: 1, id: '0', category: 'Age', value: 2 },
      { line: 3, id: '1', category: null, value: 'The grandson.' },
    ]);
  });
  it('names file and line for malformed input', () => {
    const bad = (text: string) => () => parsePredictions(text, 'p.jsonl', 'ans');
    expect(bad('{"example_id": 0, "ans": 1}\n{"example_id": 1, "ans": 1')).toThrow(/^p\.jsonl:2: invalid JSON/);
    expect(bad('[1,2]')).toThrow(/p\.jsonl:1: expected object, got \[1,2\]/);
    expect(bad('{"ans": 1}')).toThrow('p.jsonl:1: example_id: missing');
    expect(bad('{"example_id": 1.5, "ans": 1}')).toThrow('p.jsonl:1: example_id: expected a non-negative integer or a non-empty string, got 1.5');
    expect(bad('{"example_id": 1, "answer": 1}')).toThrow('p.jsonl:1: ans: missing');
    expect(bad('{"example_id": 1, "ans": 1.5}')).toThrow('p.jsonl:1: ans: expected an option index (integer >= 0) or a text, got 1.5');
    expect(bad('{"example_id": 1, "ans": null}')).toThrow('p.jsonl:1: ans: expected an option index (integer >= 0) or a text, got null');
    expect(bad('{"example_id": 1, "category": 3, "ans": 1}')).toThrow('p.jsonl:1: category: expected a non-empty string, got 3');
    expect(bad('{"example_id": 1, "ans": 1}\n\n{"example_id": 2, "ans": 1, "instruction": []}')).not.toThrow();
    expect(() => parsePredictions('{"example_id": 1, "ans": 1}\n\n{"example_id": 2, "ans": 1, "instruction": []}', 'p.jsonl', 'ans', 'instruction')).toThrow(
      'p.jsonl:1: instruction: missing',
    );
    expect(() =>
      parsePredictions('{"example_id": 1, "ans": 1, "instruction": 0}\n\n{"example_id": 2, "ans": 1, "instruction": []}', 'p.jsonl', 'ans', 'instruction'),
    ).toThrow('p.jsonl:3: instruction: expected a string or a number (the --by field), got []');
  });
});

describe('judgePredictions', () => {
  it('joins by category and id, judges indices and texts, reports missing and orphan ids', () => {
    const preds = parsePredictions(
      [
        '{"example_id": 0, "category": "Age", "ans": 2}',
        '{"example_id": 1, "ans": "the grandson"}', // id 1 only in Age: unique without category
        '{"example_id": 0, "category": "Religion", "ans": "no idea"}', // unmatched text
        '{"example_id": 9, "category": "Age", "ans": 0}', // orphan
        '{"example_id": 77, "ans": 0}', // orphan
      ].join('\n'),
      'p.jsonl',
      'ans',
    );
    const r = judgePredictions(items, preds, 'p.jsonl');
    expect(r.scored.map((s) => [s.item.category, s.item.id, s.pred])).toEqual([
      ['Age', '0', 2],
      ['Age', '1', 1],
      ['Religion', '0', null],
    ]);
    expect(r.missing).toEqual(['Religion/5']);
    expect(r.orphans).toEqual([
      { line: 4, key: 'Age/9' },
      { line: 5, key: '77' },
    ]);
    expect(r.unmatched).toHaveLength(1);
    expect(r.unmatched[0]).toMatchObject({ line: 3, text: 'no idea', reason: 'no-match' });
    expect(r.nIndex).toBe(1);
    expect(r.nText).toBe(2);
  });
  it('refuses an id without category that occurs in several categories', () => {
    const preds = parsePredictions('{"example_id": 0, "ans": 2}', 'p.jsonl', 'ans');
    expect(() => judgePredictions(items, preds, 'p.jsonl')).toThrow(/p\.jsonl:1: example_id 0 has no "category" but occurs in 2 categories \(Age, Religion\)/);
  });
  it('refuses duplicate predictions and out-of-range indices', () => {
    const dup = parsePredictions('{"example_id": 5, "ans": 2}\n{"example_id": 5, "category": "Religion", "ans": 1}', 'p.jsonl', 'ans');
    expect(() => judgePredictions(items, dup, 'p.jsonl')).toThrow(/p\.jsonl:2: second prediction for Religion\/5 \(first at line 1\)/);
    const oor = parsePredictions('{"example_id": 5, "ans": 3}', 'p.jsonl', 'ans');
    expect(() => judgePredictions(items, oor, 'p.jsonl')).toThrow(/p\.jsonl:1: option index 3 out of range for Religion\/5 \(3 options\)/);
  });
});
