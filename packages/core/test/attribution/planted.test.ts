/**
 * A planted model: FFN unit `unit` of layer `layer` is wired to raise one answer's probability on
 * every prompt. Attribution of that answer must rank the planted unit first (its gate and up
 * sites), under every reduction and objective, and at several plantings.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Attributor, attributionExample, attributionModel, loadModelFolder, topNeurons } from '../../src/index.js';
import { tempDir } from '../models/helpers.js';
import { makePlantedLlamaFolder } from '@crispr-bench/testing';

const tmp = tempDir('planted-attr');
afterAll(() => tmp.cleanup());

const PROMPTS = ['The cat sat on the mat', 'One day, the dog ran home.', 'he was tired, so'];

describe('planted FFN unit', () => {
  for (const [layer, unit, seed] of [
    [1, 17, 3],
    [0, 40, 11],
  ] as const) {
    it(`ranks first for its answer (layer ${layer}, unit ${unit})`, async () => {
      const m = await makePlantedLlamaFolder(join(tmp.dir, `p${layer}-${unit}`), { layer, unit, answerToken: ' yes', seed });
      const f = await loadModelFolder(m.dir);
      const planted = new Set([`${m.planted.sites.gate}[${unit}]`, `${m.planted.sites.up}[${unit}]`]);
      for (const [objective, reduce] of [
        ['logprob', 'max'],
        ['logprob', 'mean'],
        ['prob', 'max'],
      ] as const) {
        const a = new Attributor(attributionModel(f), { objective, reduce });
        const res = await a.run(PROMPTS.map((p) => attributionExample(f, p, [m.planted.answerId])));
        await a.close();
        for (let row = 0; row < PROMPTS.length; row++) {
          const top = topNeurons(res, 3, row);
          expect(planted.has(`${top[0]!.site}[${top[0]!.unit}]`), `${objective}/${reduce} prompt ${row}: top is ${top[0]!.site}[${top[0]!.unit}]`).toBe(true);
        }
      }
      // A different answer does not single out the planted unit.
      const other = new Attributor(attributionModel(f));
      const res = await other.run(PROMPTS.map((p) => attributionExample(f, p, ' no')));
      await other.close();
      const top = topNeurons(res, 1, 0)[0]!;
      expect(planted.has(`${top.site}[${top.unit}]`)).toBe(false);
    });
  }
});
