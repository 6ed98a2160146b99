/**
 * Models past protobuf's 2 GB limit reach ORT as a model file with external data. Forcing that
 * route with a tiny threshold must give the same numbers as the in-memory route, for plain
 * sessions, the shape probe, option scoring and attribution.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  Attributor,
  attributionExample,
  attributionModel,
  createSession,
  loadModelFolder,
  modelHash,
  probeShapes,
  releaseScoringSessions,
  scoreOptions,
  tensor,
} from '../../src/index.js';
import { HAVE_T5_TOKENIZER, NO_T5_TOKENIZER, t5Folder, tempDir } from '../models/helpers.js';

const tmp = tempDir('large');
afterAll(() => tmp.cleanup());
const sessionDirs = () => readdirSync(tmpdir()).filter((d) => d.startsWith('crispr-session-')).length;

describe.skipIf(!HAVE_T5_TOKENIZER)(`external-data sessions (${NO_T5_TOKENIZER})`, () => {
  it('gives the same logits through a model file as from memory, and cleans up', async () => {
    const f = await loadModelFolder(t5Folder(tmp.dir));
    const feeds = {
      input_ids: tensor('int64', [1, 5], [37, 2335, 19, 1627, 1]),
      attention_mask: tensor('int64', [1, 5], [1, 1, 1, 1, 1]),
      decoder_input_ids: tensor('int64', [1, 3], [0, 37, 2335]),
    };
    const before = sessionDirs();
    const mem = await createSession(f.graph);
    const file = await createSession(f.graph, { externalDataBytes: 1024 });
    expect(sessionDirs()).toBe(before + 1);
    const a = (await mem.run(feeds)).logits!.data as Float32Array;
    const b = (await file.run(feeds)).logits!.data as Float32Array;
    expect(Array.from(b)).toEqual(Array.from(a));
    await mem.release();
    await file.release();
    expect(sessionDirs()).toBe(before);
    // modelHash tells models apart by content, not just structure.
    const other = await loadModelFolder(t5Folder(tmp.dir, 't5-other'));
    expect(modelHash(other.graph)).toBe(modelHash(f.graph)); // same seed, same weights
    const w = [...other.graph.graph.initializers.values()].find((t) => t.dims.length === 2)!;
    (w.data as Float32Array)[0]! += 1;
    expect(modelHash(other.graph)).not.toBe(modelHash(f.graph));
  });

  it('probes shapes, scores and attributes the same way through model files', async () => {
    const f = await loadModelFolder(t5Folder(tmp.dir, 't5-b'));
    const items = [{ prompt: 'The pilot was tired, so', candidates: [' he', ' she went home'] }];
    const ex = [attributionExample(f, 'Who was tired?', ' the nurse')];
    const shapesMem = await probeShapes(f.graph, {}, { input_ids: [2, 7], attention_mask: [2, 7], decoder_input_ids: [2, 3] });
    const scoredMem = await scoreOptions(f, items);
    const attribute = async () => {
      const a = new Attributor(attributionModel(f), { reduce: 'sum' });
      try {
        return await a.run(ex);
      } finally {
        await a.close();
      }
    };
    const attrMem = await attribute();
    await releaseScoringSessions();

    process.env.CRISPR_EXTERNAL_DATA_BYTES = '1024';
    try {
      const shapesFile = await probeShapes(f.graph, {}, { input_ids: [2, 7], attention_mask: [2, 7], decoder_input_ids: [2, 3] });
      expect([...shapesFile.entries()]).toEqual([...shapesMem.entries()]);
      const scoredFile = await scoreOptions(f, items);
      expect(scoredFile[0]!.map((c) => c.logprob)).toEqual(scoredMem[0]!.map((c) => c.logprob));
      const attrFile = await attribute();
      expect(attrFile.logprob).toEqual(attrMem.logprob);
      for (const s of attrMem.sites) expect(Array.from(attrFile.sites.find((x) => x.name === s.name)!.values[0]!)).toEqual(Array.from(s.values[0]!));
    } finally {
      delete process.env.CRISPR_EXTERNAL_DATA_BYTES;
      await releaseScoringSessions();
    }
  });
});
