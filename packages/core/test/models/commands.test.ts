import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError, type CliIO } from '../../src/types/cli.js';
import { pruneCommand, sitesCommand } from '../../src/cli/index.js';
import { loadModelFolder } from '../../src/models/folder.js';
import { HAVE_STORIES, HAVE_T5_TOKENIZER, NO_STORIES, storiesFolder, t5Folder, tempDir } from './helpers.js';

function capture(): { io: CliIO; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l) => out.push(l), err: (l) => err.push(l) }, out, err };
}

describe.skipIf(!HAVE_STORIES)(`crispr sites / crispr prune (${HAVE_STORIES ? 'stories260K' : NO_STORIES})`, () => {
  const tmp = tempDir('cmd');
  let stories: string;
  beforeAll(() => {
    stories = storiesFolder(tmp.dir);
  });
  afterAll(() => tmp.cleanup());

  it('prints the sites table with totals', async () => {
    const c = capture();
    expect(await sitesCommand.run(['--model', stories], c.io)).toBe(0);
    const text = c.out.join('\n');
    expect(c.out[1]).toMatch(/^name\s+kind\s+layer\s+side\s+width$/);
    expect(text).toMatch(/^model\.layers\.0\.self_attn\.q_proj\s+attn_q\s+0\s+target\s+64$/m);
    expect(text).toMatch(/^model\.layers\.4\.mlp\.gate_proj\s+ffn_gate\s+4\s+target\s+172$/m);
    // 5 x (64 + 32 + 32 + 64 + 172 + 172 + 64) = 3000
    expect(text).toMatch(/total: 35 sites, 3000 neurons \(input side 0, target side 3000\)/);
    expect(text).toMatch(/attn_k 5 sites \/ 160 neurons/);
  });

  it('prints JSON with --json', async () => {
    const c = capture();
    expect(await sitesCommand.run(['--model', stories, '--json'], c.io)).toBe(0);
    const doc = JSON.parse(c.out.join('\n'));
    expect(doc.kind).toBe('decoder-only');
    expect(doc.sites).toHaveLength(35);
    expect(doc.sites[1]).toMatchObject({
      name: 'model.layers.0.self_attn.k_proj',
      kind: 'attn_k',
      layer: 0,
      side: 'target',
      width: 32,
      weight: 'model.layers.0.self_attn.k_proj.weight',
    });
    expect(doc.totals).toEqual({ sites: 35, neurons: 3000, inputSide: 0, targetSide: 3000 });
  });

  it('prunes the top k of a ranking file into a loadable folder', async () => {
    const ranking = join(tmp.dir, 'ranking.json');
    writeFileSync(
      ranking,
      JSON.stringify({
        neurons: [
          { site: 'model.layers.1.mlp.up_proj', unit: 12, score: 0.3 },
          { site: 'model.layers.3.self_attn.o_proj', unit: 5, score: 0.2 },
          { site: 'model.layers.0.self_attn.q_proj', unit: 1, score: 0.1 },
        ],
      }),
    );
    const out = join(tmp.dir, 'pruned');
    const c = capture();
    expect(await pruneCommand.run(['--model', stories, '--neurons', ranking, '--k', '2', '--out', out], c.io)).toBe(0);
    expect(c.out[0]).toBe(`pruned 2 neurons in 2 sites -> ${out}`);
    expect(existsSync(join(out, 'onnx/model.onnx'))).toBe(true);
    const f = await loadModelFolder(out, { tokenizer: false });
    expect(f.sites).toHaveLength(35);
  });

  it('names usage errors', async () => {
    const c = capture();
    await expect(sitesCommand.run([], c.io)).rejects.toThrow(/--model <dir> is required/);
    await expect(sitesCommand.run(['--model', join(tmp.dir, 'missing')], c.io)).rejects.toThrow(/no such folder/);
    await expect(sitesCommand.run(['--model', tmp.dir], c.io)).rejects.toThrow(UserError);
    await expect(sitesCommand.run(['--model', stories, '--bogus'], c.io)).rejects.toThrow(UserError);
    await expect(pruneCommand.run(['--model', stories, '--neurons', 'r.json', '--out', 'x'], c.io)).rejects.toThrow(/--k is required/);
    await expect(pruneCommand.run(['--model', stories, '--neurons', 'r.json', '--k', 'ten', '--out', 'x'], c.io)).rejects.toThrow(
      /--k must be an integer >= 0, got 'ten'/,
    );
    await expect(pruneCommand.run(['--model', stories, '--neurons', join(tmp.dir, 'none.json'), '--k', '1', '--out', 'x'], c.io)).rejects.toThrow(
      /none\.json: no such file/,
    );
  });
});

describe.skipIf(!HAVE_T5_TOKENIZER)('crispr sites on a T5-style folder', () => {
  const tmp = tempDir('cmd-t5');
  afterAll(() => tmp.cleanup());

  it('lists encoder, decoder and cross-attention sites with their sides', async () => {
    const dir = t5Folder(tmp.dir);
    const c = capture();
    expect(await sitesCommand.run(['--model', dir], c.io)).toBe(0);
    const text = c.out.join('\n');
    expect(text).toMatch(/^decoder\.block\.1\.layer\.1\.EncDecAttention\.k\s+cross_k\s+1\s+input\s+32$/m);
    expect(text).toMatch(/^decoder\.block\.0\.layer\.2\.DenseReluDense\.wo\s+ffn_down\s+0\s+target\s+32$/m);
    expect(text).toMatch(/^encoder\.block\.0\.layer\.1\.DenseReluDense\.wi_0\s+ffn_gate\s+0\s+input\s+64$/m);
    expect(text).toMatch(/total: 36 sites/);
  });
});
