/**
 * Attribution results stay what they were before the speed work of issue #10: every site's
 * values, the objective and log P of fixed examples on the test fixtures (T5_TINY and
 * stories260K, with its cache graph and without), one at a time and all four in one padded batch, against golden.json within 1e-5
 * (relative to each site's largest value when that exceeds 1). golden.json holds the one-at-a-time
 * results of the code before that work (commit 6972c12), written with GOLDEN_WRITE=1.
 */
import { cpSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModelFolder, Attributor, attributionExample, attributionModel, type ModelFolder } from '../../src/index.js';
import { CACHE_GRAPH_FILE } from '../../src/models/cache.js';
import { HAVE_STORIES, HAVE_T5_TOKENIZER, NO_STORIES, NO_T5_TOKENIZER, storiesFolder, t5Folder, tempDir } from '../models/helpers.js';

const tmp = tempDir('attr-golden');
afterAll(() => tmp.cleanup());
const GOLDEN = join(__dirname, 'golden.json');
const WRITE = process.env.GOLDEN_WRITE === '1';

type Golden = Record<string, { objective: number[]; logprob: number[]; sites: Record<string, number[][]> }>;
const golden: Golden = existsSync(GOLDEN) ? JSON.parse(readFileSync(GOLDEN, 'utf8')) : {};

const PAIRS: [string, string][] = [
  ['The pilot was tired, so', ' he'],
  ['The nurse said that the doctor was late because', ' she went home'],
  ['Who?', ' the engineer'],
  ['Once upon a time there was a little girl named Lily. She liked to play outside in the park with her friends every day.', ' They'],
];

async function check(key: string, f: ModelFolder, maxBatch: number, write = false): Promise<void> {
  const exs = PAIRS.map(([p, c]) => attributionExample(f, p, c));
  const a = new Attributor(attributionModel(f), { maxBatch });
  const res = await a.run(exs);
  await a.close();
  if (WRITE && write) {
    golden[key] = {
      objective: res.objective,
      logprob: res.logprob,
      sites: Object.fromEntries(res.sites.map((s) => [s.name, s.values.map((v) => Array.from(v, (x) => Number(x.toPrecision(9))))])),
    };
    writeFileSync(GOLDEN, JSON.stringify(golden));
    return;
  }
  const g = golden[key]!;
  expect(g, `golden.json has no entry ${key}`).toBeDefined();
  for (let e = 0; e < exs.length; e++) {
    expect(Math.abs(res.objective[e]! - g.objective[e]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(g.objective[e]!)));
    expect(Math.abs(res.logprob[e]! - g.logprob[e]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(g.logprob[e]!)));
  }
  expect(res.sites.map((s) => s.name).sort()).toEqual(Object.keys(g.sites).sort());
  for (const s of res.sites) {
    for (let e = 0; e < exs.length; e++) {
      const want = g.sites[s.name]![e]!;
      let diff = 0;
      let scale = 1;
      for (let u = 0; u < want.length; u++) {
        diff = Math.max(diff, Math.abs(s.values[e]![u]! - want[u]!));
        scale = Math.max(scale, Math.abs(want[u]!));
      }
      expect(diff, `${key} ${s.name} example ${e}`).toBeLessThan(1e-5 * scale);
    }
  }
}

describe.skipIf(!HAVE_T5_TOKENIZER)(`attribution equals the recorded results on T5_TINY (${NO_T5_TOKENIZER})`, () => {
  it('one example per batch and all in one batch', async () => {
    const f = await loadModelFolder(t5Folder(tmp.dir));
    await check('t5', f, 1, true);
    await check('t5', f, 8);
  });
});

describe.skipIf(!HAVE_STORIES)(`attribution equals the recorded results on stories260K (${NO_STORIES})`, () => {
  it('one example per batch and all in one batch', async () => {
    const f = await loadModelFolder(storiesFolder(tmp.dir));
    // The import has a cache graph: attribution differentiates the target window on cached keys/values.
    expect(attributionModel(f).cache).toBeDefined();
    await check('stories', f, 1, true);
    await check('stories', f, 8);
    // And the full-sequence graph, for folders without one.
    const plainDir = join(tmp.dir, 'stories-no-cache');
    cpSync(f.dir, plainDir, { recursive: true });
    rmSync(join(plainDir, CACHE_GRAPH_FILE));
    const plain = await loadModelFolder(plainDir);
    expect(attributionModel(plain).cache).toBeUndefined();
    await check('stories', plain, 1);
    await check('stories', plain, 8);
  });
});
