/**
 * Every file format the project reads is a zod schema read through core's one reader: a
 * malformed file names the file, the line (JSONL) and the field path.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRanking } from '@crispr-bench/core';
import { checkResults, readCells, readJsonFile, rankingFile, readManifest, SWEEP_SCHEMA } from '@crispr-bench/results';
import { afterAll, describe, expect, it } from 'vitest';
import { readRecipe } from '../src/organism/recipe.js';

const dir = mkdtempSync(join(tmpdir(), 'file-formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const recipePath = join(import.meta.dirname, '../src/organism/recipe.json');

describe('file formats: file, line and field path in every error', () => {
  it('organism recipe', () => {
    const recipe = JSON.parse(readFileSync(recipePath, 'utf8')) as { training: Record<string, unknown>; data: Record<string, unknown> };
    expect(readRecipe(recipePath)).toEqual(recipe);
    const f = join(dir, 'recipe.json');
    writeFileSync(f, JSON.stringify({ ...recipe, training: { ...recipe.training, peakLr: -1 } }));
    expect(() => readRecipe(f)).toThrow(`${f}: training.peakLr: expected a positive number, got -1`);
    writeFileSync(f, JSON.stringify({ ...recipe, data: { ...recipe.data, template: undefined } }));
    expect(() => readRecipe(f)).toThrow(`${f}: data.template: missing`);
    writeFileSync(f, JSON.stringify({ ...recipe, biasRate: 1.5 }));
    expect(() => readRecipe(f)).toThrow(`${f}: biasRate: expected a number in [0, 1], got 1.5`);
  });

  const cell = {
    schema: SWEEP_SCHEMA,
    index: 0,
    id: 'm/original/0/d/*',
    model: 'm',
    method: 'original',
    variant: '',
    rankedOn: null,
    k: 0,
    kAuto: false,
    dataset: 'd',
    role: 'bias',
    instruction: '*',
    instructionUse: 'pooled',
    n: 4,
    metrics: { accuracy: { value: 0.5, lo: 0.1, hi: 0.9 } },
    delta: null,
    predictions: 'predictions/x.jsonl',
    timing: { seconds: 1, computed: true },
  };

  it('cells.jsonl, manifest.json, rankings', () => {
    const sweep = join(dir, 'sweep');
    rmSync(sweep, { recursive: true, force: true });
    mkdirSync(sweep);
    const rows = [cell, { ...cell, index: 1, id: 'b', metrics: { accuracy: { value: 'x', lo: null, hi: null } } }];
    writeFileSync(join(sweep, 'cells.jsonl'), `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    expect(() => readCells(sweep)).toThrow(`${join(sweep, 'cells.jsonl')}:2: metrics.accuracy.value: expected number, got "x"`);
    writeFileSync(join(sweep, 'cells.jsonl'), `${JSON.stringify(cell)}\n{"schema":`);
    expect(readCells(sweep, { tornLastLine: true })).toHaveLength(1);
    expect(() => readManifest(sweep)).toThrow(/no manifest\.json/);
    writeFileSync(join(sweep, 'manifest.json'), JSON.stringify({ schema: SWEEP_SCHEMA, title: 3 }));
    expect(() => readManifest(sweep)).toThrow(`${join(sweep, 'manifest.json')}: title: expected string, got 3`);
    const r = join(sweep, 'ranking.json');
    writeFileSync(
      r,
      JSON.stringify({
        schema: SWEEP_SCHEMA,
        model: 'm',
        rankedOn: 'd',
        method: 'crispr',
        variant: 'default',
        settings: {},
        neurons: [{ site: 's', unit: 1.5 }],
      }),
    );
    expect(() => readJsonFile(r, rankingFile)).toThrow(`${r}: neurons[0].unit: expected int, got 1.5`);
    expect(() => readRanking(r)).toThrow(`${r}: neurons[0].unit: expected a non-negative integer, got 1.5`);
  });

  it('results.json', () => {
    expect(() => checkResults({ schemaVersion: 99 }, 'results.json')).toThrow('results.json: schemaVersion: schemaVersion 99, this tool reads 1');
    expect(() => checkResults({ schemaVersion: 1, title: 't' }, 'results.json')).toThrow('results.json: createdAt: missing');
  });
});
