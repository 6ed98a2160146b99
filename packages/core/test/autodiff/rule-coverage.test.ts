/**
 * Every registered gradient rule has a finite-difference check. A rule is covered when its op type
 * is a string literal in a test file that runs finite-difference checks (calls checkRule or
 * expectGrad); an op of another domain also needs that domain named in the same file. Adding a rule
 * to rules/index.ts without such a check fails here, naming the op.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { registeredOps } from '../../src/autodiff/registry.js';

const here = import.meta.dirname;

function fdTestFiles(): { file: string; text: string }[] {
  return readdirSync(here)
    .filter((f) => f.endsWith('.test.ts') && f !== 'rule-coverage.test.ts')
    .map((f) => ({ file: f, text: readFileSync(join(here, f), 'utf8') }))
    .filter((f) => /\b(checkRule|expectGrad)\(/.test(f.text));
}

/** Ops named in `files` (string literals), per domain ('' = default). */
function checkedOps(files: { text: string }[]): Set<string> {
  const out = new Set<string>();
  for (const { text } of files) {
    const domains = [...new Set([...text.matchAll(/'(com\.[\w.]+)'/g)].map((m) => m[1]!))];
    for (const m of text.matchAll(/'([A-Z][A-Za-z0-9]*)'/g)) {
      out.add(m[1]!);
      for (const d of domains) out.add(`${d}:${m[1]}`);
    }
  }
  return out;
}

describe('gradient rule coverage', () => {
  it('finds the finite-difference test files', () => {
    expect(fdTestFiles().map((f) => f.file)).toEqual(expect.arrayContaining(['math-rules.test.ts', 'reduce-rules.test.ts', 'index-rules.test.ts']));
  });
  it('every registered op has a finite-difference check', () => {
    const checked = checkedOps(fdTestFiles());
    expect(registeredOps().filter((op) => !checked.has(op))).toEqual([]);
  });
  it('an op named nowhere is reported (the check can fail)', () => {
    const checked = checkedOps([{ text: "expectGrad({ opType: 'Add' })" }]);
    expect(['Add', 'Sub'].filter((op) => !checked.has(op))).toEqual(['Sub']);
  });
});
