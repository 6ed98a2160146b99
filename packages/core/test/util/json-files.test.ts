import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FileFormatError, expected, parseJsonl, readJsonFile, readJsonl } from '../../src/common.js';

const dir = mkdtempSync(join(tmpdir(), 'json-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const row = z.object({ id: z.string(), tags: z.array(z.string()), n: z.int(expected('a count')).nonnegative(expected('a count')) });

describe('readJsonl and parseJsonl', () => {
  it('reads every line against the schema, skipping blank lines', () => {
    const f = join(dir, 'ok.jsonl');
    writeFileSync(f, '{"id":"a","tags":[],"n":1}\n\n{"id":"b","tags":["x"],"n":0}\r\n\n');
    expect(readJsonl(f, row)).toEqual([
      { id: 'a', tags: [], n: 1 },
      { id: 'b', tags: ['x'], n: 0 },
    ]);
    expect(parseJsonl('\n{"id":"a","tags":[],"n":1}', 'm.jsonl', row).rows.map((r) => r.line)).toEqual([2]);
  });

  it('names file, 1-based line and field path of a malformed line', () => {
    const f = join(dir, 'Religion.jsonl');
    writeFileSync(f, '{"id":"a","tags":[],"n":1}\n{"id":"b","tags":"x","n":1}\n');
    expect(() => readJsonl(f, row)).toThrow(`${f}:2: tags: expected array, got "x"`);
    const bad = (text: string) => () => parseJsonl(text, 'm.jsonl', row);
    expect(bad('{"id":"a","tags":[1],"n":1}')).toThrow('m.jsonl:1: tags[0]: expected string, got 1');
    expect(bad('{"tags":[],"n":1}')).toThrow('m.jsonl:1: id: missing');
    expect(bad('{"id":"a","tags":[],"n":-2}')).toThrow('m.jsonl:1: n: expected a count, got -2');
    expect(bad('{"id":"a"}\n{"id":')).toThrow(/^m\.jsonl:1: tags: missing$/);
    expect(bad('{"id":"a","tags":[],"n":1}\n{"id":')).toThrow(/^m\.jsonl:2: invalid JSON/);
    expect(bad('[]')).toThrow('m.jsonl:1: expected object, got []');
    try {
      bad('\n\n{"id":"a","tags":[],"n":"1"}')();
    } catch (e) {
      expect(e).toBeInstanceOf(FileFormatError);
      expect([(e as FileFormatError).file, (e as FileFormatError).line, (e as FileFormatError).field]).toEqual(['m.jsonl', 3, 'n']);
    }
  });

  it('tornLastLine drops only an unparseable last line; skip mode lists bad lines', () => {
    const text = '{"id":"a","tags":[],"n":1}\n{"id":"b","ta';
    expect(parseJsonl(text, 'm.jsonl', row, { tornLastLine: true }).rows).toHaveLength(1);
    expect(() => parseJsonl(`{"id":"b","ta\n${text}`, 'm.jsonl', row, { tornLastLine: true })).toThrow(/m\.jsonl:1: invalid JSON/);
    const r = parseJsonl('{"id":"a","tags":[],"n":1}\n{"id":"a","tags":[],"n":2}\n{"id":3}', 'm.jsonl', row, {
      onBadLine: 'skip',
      check: ({ value }) => (value.id === 'a' && value.n === 2 ? { field: 'id', message: 'duplicate' } : null),
    });
    expect(r.rows.map((x) => x.value.n)).toEqual([1]);
    expect(r.skipped).toEqual([
      { file: 'm.jsonl', line: 2, field: 'id', message: 'duplicate' },
      { file: 'm.jsonl', line: 3, field: 'id', message: 'expected string, got 3' },
    ]);
  });
});

describe('readJsonFile', () => {
  it('names the file and field path; invalid JSON and unreadable files too', () => {
    const f = join(dir, 'doc.json');
    writeFileSync(
      f,
      JSON.stringify({
        rows: [
          { id: 'a', tags: [], n: 1 },
          { id: 'b', tags: [], n: 1.5 },
        ],
      }),
    );
    expect(() => readJsonFile(f, z.object({ rows: z.array(row) }))).toThrow(`${f}: rows[1].n: expected a count, got 1.5`);
    writeFileSync(f, '{');
    expect(() => readJsonFile(f, row)).toThrow(new RegExp(`^${f}: invalid JSON`));
    expect(() => readJsonFile(join(dir, 'none.json'), row)).toThrow(/cannot read .*none\.json/);
  });
});
