/**
 * Score, choose and attribute in one seq2seq graph (DESIGN.md §5 steps 1-3 for a batch of items):
 * the encoder runs once per prompt; every candidate is scored on it (forward only); the biased
 * label y_hat = argmax over c != gold of log P(c) is picked inside the graph; and the biased and
 * gold targets are differentiated as the attribution graph's two rows per prompt. Scoring first and
 * attributing later would run each prompt's encoder forward twice.
 *
 * Inputs, N prompts of C candidate slots each (R = N * C candidate rows, B = 2N attribution rows):
 *   input_ids, attention_mask [N, P]; prompt_rows [B] (row 2n and 2n + 1 read prompt n)
 *   choice/decoder_input_ids, choice/labels, choice/label_mask [R, T]: candidate c of prompt n is row n*C + c
 *   choice/prompt_rows [R]: the prompt of each candidate row
 *   choice/wrong [N, C] float: 1 where a candidate may be the biased label (a real candidate, not the gold one)
 *   choice/gold_rows [N] int64: n*C + gold_n
 *   every site: mask.<site> [width], as in the attribution graph
 * Outputs: choice/logprob_rows [R] (each candidate's log P), choice/biased [N] (y_hat, int64), and the
 * attribution graph's outputs for rows 2n (y_hat) and 2n + 1 (gold).
 */
import type { Graph, Model, Node, Tensor } from '../onnx/types.js';
import { GraphBuilder } from '../onnx/builder.js';
import { cloneModel, removeDeadNodes, topologicalSort } from '../onnx/graph.js';
import { specialize } from '../onnx/specialize.js';
import { shareForward } from '../onnx/share-forward.js';
import { reducePowers } from '../onnx/strength-reduce.js';
import { probeShapes } from '../runtime/shape-probe.js';
import { defaultOpset } from '../onnx/types.js';
import { unsqueeze } from '../autodiff/emit.js';
import type { NeuronSite } from '../models/sites.js';
import { targetLogprob } from './objective.js';
import { buildRowAttributionGraph, sharePromptForward, type AttributionGraph, type AttributionGraphOptions } from './graph.js';
import type { AttributionBucket } from './types.js';

export interface ChoiceGraph extends AttributionGraph {
  promptIndex: string;
  /** Candidate slots per prompt. */
  candidates: number;
  /** [R] float: log P of each candidate row. */
  candidateLogprobOutput: string;
  /** [N] int64: the biased label chosen for each prompt. */
  biasedOutput: string;
}

/** Names of the choice inputs. */
export const CHOICE = {
  decoderInputIds: 'choice/decoder_input_ids',
  labels: 'choice/labels',
  labelMask: 'choice/label_mask',
  promptRows: 'choice/prompt_rows',
  wrong: 'choice/wrong',
  goldRows: 'choice/gold_rows',
} as const;

const PREFIX = 'choice/';
const ROW_INPUTS = ['decoder_input_ids', 'labels', 'label_mask'];

export async function buildChoiceGraph(
  base: Model,
  sites: NeuronSite[],
  bucket: AttributionBucket,
  candidates: number,
  opts: AttributionGraphOptions = {},
): Promise<ChoiceGraph> {
  const { batch: B, inputLength: P, targetLength: T } = bucket;
  if (B % 2 !== 0 || B < 2) throw new Error(`choice graph: the batch (${B} rows) must be two rows per prompt`);
  if (!Number.isInteger(candidates) || candidates < 2) throw new Error(`choice graph: need at least two candidates per prompt, got ${candidates}`);
  const N = B / 2;
  const C = candidates;
  const R = N * C;
  const rows = await buildRowAttributionGraph(base, 'seq2seq', sites, bucket, opts);
  const attr = sharePromptForward(rows);
  if (!attr?.promptIndex) throw new Error('choice graph: the model has no prompt-side forward to share (is it a seq2seq encoder-decoder?)');
  const opset = defaultOpset(rows.source);

  // The scoring forward at R candidate rows, from the same source as the attribution graph, so
  // that its prompt side has the same values (and names) and runs once for both.
  const scoring = cloneModel(rows.source);
  // The source declares the attribution rows' target inputs at B rows; here they are R.
  for (const i of scoring.graph.inputs) if (i.name === 'labels' || i.name === 'label_mask') i.shape = null;
  const sb = new GraphBuilder(scoring.graph, `${PREFIX}score/`);
  const logprob = targetLogprob(sb, rows.logits, 'labels', 'label_mask', opset, 'logprob_rows'); // choice/logprob_rows once merged
  scoring.graph.outputs = [{ name: logprob, dtype: 'float32', shape: null }];
  scoring.graph = removeDeadNodes(scoring.graph);
  const dims: Record<string, number[]> = {
    input_ids: [R, P],
    attention_mask: [R, P],
    decoder_input_ids: [R, T],
    labels: [R, T],
    label_mask: [R, T],
  };
  for (const s of sites) {
    const m = attr.maskInputs.get(s.name);
    if (m) dims[m] = [s.width];
  }
  const spec = await specialize(scoring, dims, probeShapes, { batchInputs: Object.keys(dims).filter((n) => !rows.maskNames.has(n)) });
  if (!spec.batchMajor) throw new Error('choice graph: the scoring forward has no batch-major values');
  const shared = shareForward(spec.model, rows.source, {
    shared: ['input_ids', 'attention_mask'],
    broadcast: [...rows.maskNames],
    index: 'prompt_rows', // renamed choice/prompt_rows below
    batchMajor: spec.batchMajor,
  });
  if (!shared) throw new Error('choice graph: the scoring forward shares nothing with the prompt');
  const merged = mergeScoring(attr.model.graph, shared.model.graph, rows.maskNames);

  // The pick: y_hat per prompt, then the attribution rows' targets gathered from the candidates.
  const b = new GraphBuilder(merged, `${PREFIX}pick/`);
  b.input(CHOICE.wrong, 'float32', [N, C]);
  b.input(CHOICE.goldRows, 'int64', [N]);
  const byPrompt = b.op('Reshape', [`${PREFIX}${logprob}`, b.ints([N, C])]);
  // Candidates that may not be y_hat sink far below any log-probability (ArgMax keeps the first of ties, as biasedLabel does).
  const sunk = b.op('Add', [byPrompt, b.op('Mul', [b.op('Sub', [b.scalar(1), CHOICE.wrong]), b.scalar(-1e30)])]);
  const biased = b.op('ArgMax', [sunk], { axis: 1, keepdims: 0 }, { output: `${PREFIX}biased` });
  const first = b.initializer(`${PREFIX}pick/first_rows`, {
    dtype: 'int64',
    dims: [N],
    data: BigInt64Array.from({ length: N }, (_, n) => BigInt(n * C)),
  } satisfies Tensor);
  const biasedRows = b.op('Add', [biased, first]);
  const pairs = b.op('Concat', [unsqueeze(b, biasedRows, [1], opset), unsqueeze(b, CHOICE.goldRows, [1], opset)], { axis: 1 });
  const selected = b.op('Reshape', [pairs, b.ints([B])]);
  for (const name of ROW_INPUTS) b.op('Gather', [`${PREFIX}${name}`, selected], { axis: 0 }, { output: name });
  merged.inputs = merged.inputs.filter((i) => !ROW_INPUTS.includes(i.name));
  merged.outputs.push({ name: `${PREFIX}${logprob}`, dtype: 'float32', shape: [R] }, { name: biased, dtype: 'int64', shape: [N] });
  // The scoring rows come from the source, unreduced (see sharePromptForward).
  reducePowers(merged);
  const model: Model = { ...attr.model, graph: topologicalSort(removeDeadNodes(merged)) };
  return {
    ...attr,
    model,
    promptIndex: attr.promptIndex,
    candidates: C,
    candidateLogprobOutput: `${PREFIX}${logprob}`,
    biasedOutput: biased,
  };
}

/**
 * The attribution graph plus the scoring graph's row side. Both prompt sides come from one source
 * under one naming (`prompt/...`), so the scoring graph's prompt nodes that the attribution graph
 * already has are dropped; every other value of the scoring graph is renamed under `choice/`,
 * except the shared inputs, the site masks and weights both graphs hold as the same tensor.
 */
function mergeScoring(attr: Graph, scoring: Graph, maskNames: Set<string>): Graph {
  const attrValues = new Set<string>();
  const attrPrompt = new Set<string>();
  for (const n of attr.nodes)
    for (const o of n.outputs) {
      if (!o) continue;
      attrValues.add(o);
      if (n.name.startsWith('prompt/')) attrPrompt.add(o);
    }
  const promptValues = new Set<string>();
  for (const n of scoring.nodes) if (n.name.startsWith('prompt/')) for (const o of n.outputs) if (o) promptValues.add(o);
  // A prompt value keeps its name where the attribution graph computes it on its prompt side too
  // (the same node of the same source) or does not have it at all.
  const keep = (v: string) =>
    v === '' ||
    v === 'input_ids' ||
    v === 'attention_mask' ||
    maskNames.has(v) ||
    (promptValues.has(v) && (attrPrompt.has(v) || !attrValues.has(v))) ||
    (scoring.initializers.has(v) && (attr.initializers.get(v) === scoring.initializers.get(v) || (v.startsWith('prompt/') && !attr.initializers.has(v))));
  const rename = (v: string) => (keep(v) ? v : PREFIX + v);
  const nodes: Node[] = [];
  for (const n of scoring.nodes) {
    if (n.name.startsWith('prompt/') && n.outputs.every((o) => !o || attrPrompt.has(o))) continue;
    nodes.push({ ...n, name: PREFIX + n.name, inputs: n.inputs.map(rename), outputs: n.outputs.map(rename) });
  }
  const initializers = new Map(attr.initializers);
  for (const [k, t] of scoring.initializers) {
    const name = rename(k);
    const have = initializers.get(name);
    if (have && have !== t) throw new Error(`choice graph: initializer '${name}' differs between the scoring and attribution graphs`);
    initializers.set(name, t);
  }
  const inputs = [...attr.inputs];
  for (const i of scoring.inputs) {
    const name = rename(i.name);
    if (!inputs.some((x) => x.name === name)) inputs.push({ ...i, name });
  }
  const known = new Set(attr.valueInfo.map((v) => v.name));
  const valueInfo = [...attr.valueInfo, ...scoring.valueInfo.map((v) => ({ ...v, name: rename(v.name) })).filter((v) => !known.has(v.name))];
  return { ...attr, nodes: [...attr.nodes, ...nodes], inputs, initializers, valueInfo, outputs: [...attr.outputs] };
}
