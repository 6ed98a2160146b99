/** Attribution over a loaded model folder: the model view and the tokenisation of examples. */
import type { ModelFolder } from '../models/folder.js';
import { encodeScoringRows } from '../models/scoring.js';
import type { AttributionModel } from './run.js';
import { cacheGraph } from '../models/cache.js';
import type { AttributionExample, ChoiceExample } from './types.js';

export function attributionModel(folder: ModelFolder): AttributionModel {
  return {
    kind: folder.kind,
    graph: folder.graph,
    sites: folder.sites,
    id: folder.dir,
    ...(cacheGraph(folder) ? { cache: cacheGraph(folder)! } : {}),
    ...(folder.decoderStartTokenId !== undefined ? { decoderStartTokenId: folder.decoderStartTokenId } : {}),
  };
}

/**
 * Tokenises a prompt/target pair exactly as option scoring does, so that attribution
 * differentiates the same log-probability that scoring reports.
 */
export function attributionExample(folder: ModelFolder, prompt: string | number[], target: string | number[]): AttributionExample {
  const row = encodeScoringRows(folder, [{ prompt, candidates: [target] }])[0]!;
  return folder.kind === 'seq2seq'
    ? { promptIds: row.inputIds, targetIds: row.target }
    : { promptIds: row.inputIds.slice(0, row.firstPosition + 1), targetIds: row.target };
}

/** An item for Attributor.runChoices: the prompt and every candidate tokenised as scoring does. */
export function choiceExample(folder: ModelFolder, prompt: string | number[], candidates: (string | number[])[], gold: number): ChoiceExample {
  if (folder.kind !== 'seq2seq') throw new Error('choiceExample: choosing in the graph is for seq2seq models');
  const rows = encodeScoringRows(folder, [{ prompt, candidates }]);
  return { promptIds: rows[0]!.inputIds, candidates: rows.map((r) => r.target), gold };
}
