/**
 * Attribution graphs: forward pass, objective, backward pass and token reduction as one ONNX
 * graph, so that only a [batch, width] array per site leaves onnxruntime.
 *
 * Inputs (all with the bucket's concrete shapes):
 *   seq2seq:      input_ids, attention_mask [B, P]; decoder_input_ids, labels, label_mask [B, T]
 *   decoder-only: input_ids, attention_mask, token_mask [B, L]; labels, label_mask,
 *                 target_index [B, T]
 *   every site:   mask.<site> [width] (ones = the unmodified model)
 * `labels[b, k]` is the k-th target token and `label_mask[b, k]` is 1 where it is a real one
 * (target buckets are padded). seq2seq: decoder position k predicts labels[b, k]. Decoder-only:
 * row `target_index[b, k]` of the flattened [B * L] positions predicts it, and only those rows go
 * through the LM head (gathered before it), so the prompt positions never cost a vocabulary-wide
 * matrix product, softmax or their gradients; `token_mask` marks the positions target-side sites
 * reduce over. Decoder-only with a cache graph (`opts.cache`): the graph is the target window
 * alone on top of a prompt's cached keys and values: input_ids [B, T] (the last prompt token and
 * the target but its last token), attention_mask [B, P + T], past_key_values.* [B, heads, P,
 * head_dim] with P = inputLength, labels, label_mask [B, T]; every window position predicts one
 * target token, and sites reduce over the window. The cache is an input, not differentiated:
 * by causality no window activation reaches the prompt's keys and values, so the gradients at
 * the window equal the full-sequence graph's, at a few positions' cost and memory. The objective of example b is
 *   log P(target_b) = sum_k label_mask[b, k] * log softmax(logits[b, k])[labels[b, k]]
 * (or its exp). Examples in a batch never attend to each other, so the gradient of the batch
 * sum with respect to h gives every example's own gradient in one backward pass.
 */
import type { Model } from '../onnx/types.js';
import { GraphBuilder } from '../onnx/builder.js';
import { specialize } from '../onnx/specialize.js';
import { probeShapes } from '../runtime/shape-probe.js';
import { buildGradientGraph } from '../autodiff/engine.js';
import { shareForward } from '../onnx/share-forward.js';
import { reducePowers } from '../onnx/strength-reduce.js';
import { reduceOp, unsqueeze } from '../autodiff/emit.js';
import { logitsGradient, targetLogprobParts } from './objective.js';
import { defaultOpset } from '../onnx/types.js';
import { addSiteMasks } from '../models/masks.js';
import { gatherTargetLogits } from '../models/head.js';
import type { CacheGraph } from '../models/cache.js';
import type { NeuronSite } from '../models/sites.js';
import type { AttributionBucket, AttributionObjective, TokenReduction } from './types.js';

export interface AttributionGraph {
  model: Model;
  sites: NeuronSite[];
  /** site name -> name of its graph input mask */
  maskInputs: Map<string, string>;
  /** site name -> output holding [B, width] attributions */
  outputs: Map<string, string>;
  objectiveOutput: string;
  logprobOutput: string;
  bucket: AttributionBucket;
  kind: 'seq2seq' | 'decoder-only';
  /**
   * seq2seq with shared prompts: input_ids and attention_mask hold the batch's distinct prompts
   * ([prompts, P], any count) and this int64 input [B] gives each row's prompt.
   */
  promptIndex?: string;
}

/** The input that maps rows to prompts in a seq2seq graph with shared prompts. */
export const PROMPT_INDEX = 'prompt_rows';

export interface AttributionGraphOptions {
  objective?: AttributionObjective;
  reduce?: TokenReduction;
  cache?: CacheGraph;
  masked?: boolean;
  sharePrompts?: boolean;
}

/** The attribution graph at B rows before any prompt sharing, with what sharing needs: its forward source and batch-major values. */
export interface RowAttributionGraph {
  graph: AttributionGraph;
  /** The masked forward model the row graph was specialised from (shareForward's source). */
  source: Model;
  batchMajor: Set<string> | undefined;
  /** Graph inputs of the site masks (no batch axis). */
  maskNames: Set<string>;
  /** The source's logits value. */
  logits: string;
}

export async function buildAttributionGraph(
  base: Model,
  kind: 'seq2seq' | 'decoder-only',
  sites: NeuronSite[],
  bucket: AttributionBucket,
  opts: AttributionGraphOptions = {},
): Promise<AttributionGraph> {
  const rows = await buildRowAttributionGraph(base, kind, sites, bucket, opts);
  // seq2seq: an item's biased and gold targets are two rows of one prompt. The encoder forward
  // (and the decoder's cross-attention keys and values) then runs once per distinct prompt; the
  // backward stays per row, since each target has its own gradients.
  if (kind === 'seq2seq' && opts.sharePrompts !== false) return sharePromptForward(rows) ?? rows.graph;
  return rows.graph;
}

/** The row graph with its prompt side run once per distinct prompt (input PROMPT_INDEX), or null where nothing is shared. */
export function sharePromptForward(rows: RowAttributionGraph): AttributionGraph | null {
  if (!rows.batchMajor) return null;
  const shared = shareForward(rows.graph.model, rows.source, {
    shared: ['input_ids', 'attention_mask'],
    broadcast: [...rows.maskNames],
    index: PROMPT_INDEX,
    batchMajor: rows.batchMajor,
  });
  if (!shared) return null;
  // The prompt side comes from the source, whose Pow nodes (RMSNorm's square, GELU's cube) the
  // gradient builder has not strength-reduced as it did the row graph's.
  reducePowers(shared.model.graph);
  return { ...rows.graph, model: shared.model, promptIndex: PROMPT_INDEX };
}

export async function buildRowAttributionGraph(
  base: Model,
  kind: 'seq2seq' | 'decoder-only',
  sites: NeuronSite[],
  bucket: AttributionBucket,
  opts: AttributionGraphOptions = {},
): Promise<RowAttributionGraph> {
  const cache = kind === 'decoder-only' ? opts.cache : undefined;
  const objectiveKind = opts.objective ?? 'logprob';
  const reduce = opts.reduce ?? 'max';
  // Unmasked (the usual case: attribution of the original model), the site outputs themselves are
  // h, which saves a multiply per site forward and another backward.
  const masked =
    opts.masked === false
      ? { model: addSiteMasks(base, []).model, maskInputs: new Map<string, string>(), maskedOutputs: new Map(sites.map((s) => [s.name, s.output])) }
      : addSiteMasks(base, sites);
  const model = masked.model;
  const g = model.graph;
  const opset = defaultOpset(model);
  const logits = g.outputs.find((o) => o.name === 'logits')?.name ?? g.outputs[0]?.name;
  if (!logits) throw new Error('attribution: the model graph has no outputs');
  const b = new GraphBuilder(g, 'attr/');

  const { batch: B, inputLength: P, targetLength: T } = bucket;
  const L = kind === 'seq2seq' || cache ? T : P;
  b.input('labels', 'int64', [B, T]);
  b.input('label_mask', 'float32', [B, T]);
  let targetLogits = logits;
  if (kind === 'decoder-only' && !cache) {
    b.input('token_mask', 'float32', [B, L]);
    b.input('target_index', 'int64', [B, T]);
    targetLogits = gatherTargetLogits(g, b, logits, 'target_index');
  }

  // Objective: masked sum of the target tokens' log-probabilities.
  const lp = targetLogprobParts(b, targetLogits, 'labels', 'label_mask', opset, 'attr/logprob');
  const logprob = lp.logprob;
  const objective =
    objectiveKind === 'prob' ? b.op('Exp', [logprob], {}, { output: 'attr/objective' }) : b.op('Identity', [logprob], {}, { output: 'attr/objective' });
  // The backward starts at the logits with their gradient in closed form (logitsGradient), not at
  // the objective through the vocabulary-wide softmax.
  const logitsGrad = logitsGradient(b, lp, 'label_mask', opset, objectiveKind === 'prob' ? objective : undefined);
  // Outputs keep what specialisation's dead-node pass must not drop. Shapes undeclared: the
  // objective also feeds logitsGradient, and the batch probes run it at 1 and 2 rows.
  g.outputs = [
    { name: objective, dtype: 'float32', shape: null },
    { name: logprob, dtype: 'float32', shape: null },
    { name: logitsGrad, dtype: 'float32', shape: null },
  ];

  const inputDims: Record<string, number[]> = { input_ids: [B, P], attention_mask: [B, P], labels: [B, T], label_mask: [B, T] };
  if (kind === 'seq2seq') inputDims.decoder_input_ids = [B, T];
  else if (cache) {
    Object.assign(inputDims, { input_ids: [B, T], attention_mask: [B, P + T] });
    for (const l of cache.layers) inputDims[l.key] = inputDims[l.value] = [B, cache.heads, P, cache.headDim];
  } else Object.assign(inputDims, { token_mask: [B, L], target_index: [B, T] });
  for (const s of sites) {
    const m = masked.maskInputs.get(s.name);
    if (m) inputDims[m] = [s.width];
  }
  for (const inp of g.inputs)
    if (!inputDims[inp.name]) throw new Error(`attribution: model input '${inp.name}' is not one the attribution graph knows how to feed`);

  // Token inputs carry the batch on axis 0 (site masks do not): the shape probe runs small.
  const maskNames = new Set(masked.maskInputs.values());
  const spec = await specialize(model, inputDims, probeShapes, { batchInputs: Object.keys(inputDims).filter((n) => !maskNames.has(n)) });
  const hNames = sites.map((s) => masked.maskedOutputs.get(s.name)!);
  const grad = await buildGradientGraph(spec.model, { objective: targetLogits, seed: logitsGrad, wrt: hNames, shapes: spec.shapes });
  const out = grad.model;
  // The gradient graph keeps the forward outputs; attribution outputs are added below.
  out.graph.outputs = out.graph.outputs.filter((o) => o.name === objective || o.name === logprob);
  const rb = new GraphBuilder(out.graph, 'attr/reduce/');

  const targetMask = kind === 'seq2seq' || cache ? 'label_mask' : 'token_mask';
  const inputMask = kind === 'seq2seq' ? rb.op('Cast', ['attention_mask'], { to: 1 }) : targetMask;
  // Per token mask (shared by every site of a side): [B, tokens, 1] weights, and for max an additive
  // bias that sends padding far below any real value (an Add broadcasts faster than a Where). Every
  // real example has a valid token on each side (exampleLengths); batch fillers have none, and
  // their rows are never read.
  const sideMasks = new Map<string, { m: string; bias: string }>();
  const maskOf = (mask: string) => {
    let r = sideMasks.get(mask);
    if (!r) {
      const m = unsqueeze(rb, mask, [2], opset);
      const bias = rb.op('Mul', [rb.op('Sub', [rb.scalar(1), m]), rb.scalar(-1e30)]);
      sideMasks.set(mask, (r = { m, bias }));
    }
    return r;
  };
  const outputs = new Map<string, string>();
  sites.forEach((s, i) => {
    const h = hNames[i]!;
    const dh = grad.gradients.get(h)!;
    const dims = spec.shapes.get(h)?.dims;
    if (!dims) throw new Error(`attribution: no static shape for site '${s.name}' output '${h}'`);
    const tokens = s.side === 'input' ? P : L;
    let a = rb.op('Mul', [h, dh]);
    // Some exports flatten [B, L, W] to [B*L, W] around a MatMul; restore the token axis.
    if (dims.length === 2) a = rb.op('Reshape', [a, rb.ints([B, tokens, s.width])]);
    else if (dims.length !== 3 || dims[0] !== B || dims[1] !== tokens || dims[2] !== s.width) {
      throw new Error(`attribution: site '${s.name}' output has shape [${dims}], expected [${B}, ${tokens}, ${s.width}]`);
    }
    const { m, bias } = maskOf(s.side === 'input' ? inputMask : targetMask);
    const name = `attr.${s.name}`;
    if (reduce === 'max') reduceOp(rb, 'ReduceMax', rb.op('Add', [a, bias]), [1], false, opset, name);
    else if (reduce === 'sum') reduceOp(rb, 'ReduceSum', rb.op('Mul', [a, m]), [1], false, opset, name);
    else {
      const summed = reduceOp(rb, 'ReduceSum', rb.op('Mul', [a, m]), [1], false, opset);
      const count = rb.op('Max', [reduceOp(rb, 'ReduceSum', m, [1], false, opset), rb.scalar(1)]);
      rb.op('Div', [summed, count], {}, { output: name });
    }
    out.graph.outputs.push({ name, dtype: 'float32', shape: [B, s.width] });
    outputs.set(s.name, name);
  });

  return {
    graph: { model: out, sites, maskInputs: masked.maskInputs, outputs, objectiveOutput: objective, logprobOutput: logprob, bucket, kind },
    source: model,
    batchMajor: spec.batchMajor,
    maskNames,
    logits,
  };
}
