import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, loadModelFolder } from '../../src/index.js';
import { explainCommand } from '../../src/cli/index.js';
import { HAVE_STORIES, HAVE_T5_TOKENIZER, NO_STORIES, NO_T5_TOKENIZER, storiesFolder, t5Folder, tempDir } from '../models/helpers.js';

const tmp = tempDir('explain');
afterAll(() => tmp.cleanup());

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

interface ExplainJson {
  objective: number;
  logprob: number;
  sites: { name: string; side: string; width: number; values: number[] }[];
}

describe.skipIf(!HAVE_STORIES)(`crispr explain on stories260K (${NO_STORIES})`, () => {
  const dir = HAVE_STORIES ? storiesFolder(tmp.dir) : '';
  it('prints the objective and top neurons and writes every unit to JSON', async () => {
    const json = join(tmp.dir, 'stories.json');
    const c = capture();
    const code = await explainCommand.run(['--model', dir, '--prompt', 'The pilot was tired, so', '--target', ' he', '--top', '5', '--json', json], c.io);
    expect(code).toBe(0);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as ExplainJson;
    expect(doc.logprob).toBeLessThan(0);
    expect(doc.objective).toBe(doc.logprob);
    expect(doc.sites).toHaveLength(35);
    expect(doc.sites.reduce((a, s) => a + s.values.length, 0)).toBe(3000);
    for (const s of doc.sites) expect(s.values).toHaveLength(s.width);
    const rows = c.out.filter((l) => /^\s+\d+\s+model\.layers/.test(l));
    expect(rows).toHaveLength(5);
    // the printed top value is the JSON's maximum
    const max = Math.max(...doc.sites.flatMap((s) => s.values));
    expect(Number(rows[0]!.trim().split(/\s+/).at(-1))).toBeCloseTo(max, 4);
  });

  it('takes token ids, prob objective and an FFN-only restriction', async () => {
    const json = join(tmp.dir, 'ids.json');
    const f = await loadModelFolder(dir);
    const prompt = f.tokenizer.encode('The pilot was tired, so', { add_special_tokens: true });
    const c = capture();
    expect(
      await explainCommand.run(
        ['--model', dir, '--prompt-ids', prompt.join(','), '--target-ids', '281', '--objective', 'prob', '--kinds', 'ffn', '--reduce', 'mean', '--json', json],
        c.io,
      ),
    ).toBe(0);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as ExplainJson;
    expect(doc.objective).toBeCloseTo(Math.exp(doc.logprob), 6);
    expect(new Set(doc.sites.map((s) => s.name.split('.').slice(-1)[0]))).toEqual(new Set(['gate_proj', 'up_proj', 'down_proj']));
  });

  it('rejects bad usage with a clear message', async () => {
    await expect(explainCommand.run(['--model', dir, '--prompt', 'x'], capture().io)).rejects.toThrow(UserError);
    await expect(explainCommand.run(['--model', dir, '--prompt-ids', '1,a', '--target', 'x'], capture().io)).rejects.toThrow(/--prompt-ids/);
    await expect(explainCommand.run(['--model', dir, '--prompt', 'x', '--target', 'y', '--reduce', 'median'], capture().io)).rejects.toThrow(
      /--reduce must be one of/,
    );
    await expect(explainCommand.run(['--model', dir, '--prompt', 'x', '--target', 'y', '--kinds', 'cross_q'], capture().io)).rejects.toThrow(
      /no sites of kind cross_q/,
    );
  });
});

describe.skipIf(!HAVE_T5_TOKENIZER)(`crispr explain on a T5-style folder (${NO_T5_TOKENIZER})`, () => {
  it('covers encoder, decoder and cross-attention sites with their sides', async () => {
    const dir = t5Folder(tmp.dir);
    const json = join(tmp.dir, 't5.json');
    expect(await explainCommand.run(['--model', dir, '--prompt', 'Who was tired?', '--target', 'the nurse', '--json', json, '--top', '3'], capture().io)).toBe(
      0,
    );
    const doc = JSON.parse(readFileSync(json, 'utf8')) as ExplainJson;
    const side = (pat: RegExp) => new Set(doc.sites.filter((s) => pat.test(s.name)).map((s) => s.side));
    expect(side(/^encoder\./)).toEqual(new Set(['input']));
    expect(side(/EncDecAttention\.[kv]$/)).toEqual(new Set(['input']));
    expect(side(/EncDecAttention\.[qo]$/)).toEqual(new Set(['target']));
    expect(side(/^decoder\..*(SelfAttention|DenseReluDense)/)).toEqual(new Set(['target']));
  });
});
