/**
 * Training graphs: a seq2seq model graph plus the token-mean negative log-likelihood of its
 * targets and the gradients of that loss with respect to the trainable weights, as one ONNX graph
 * for one fixed padded shape (so one ORT session serves every training step).
 *
 * The trainable initializers become graph inputs before specialisation: the optimiser changes
 * them every step, and constant folding must never bake them (or anything computed from them,
 * such as a transposed weight) into the graph.
 *
 * Inputs:  input_ids, attention_mask [B, P] int64; decoder_input_ids, labels [B, T] int64;
 *          label_mask [B, T] float32; every trainable weight under its own name.
 * Outputs: loss (scalar), logprob [B] (log P(target) per row), grad/<weight> per weight.
 */
import type { Model } from '../onnx/types.js';
import { defaultOpset } from '../onnx/types.js';
import { GraphBuilder } from '../onnx/builder.js';
import { cloneModel, removeDeadNodes } from '../onnx/graph.js';
import { specialize } from '../onnx/specialize.js';
import { probeShapes } from '../runtime/shape-probe.js';
import { buildGradientGraph } from '../autodiff/engine.js';
import { targetLogprob } from '../attribution/objective.js';

export interface TrainBucket {
  batch: number;
  inputLength: number;
  targetLength: number;
}

export interface TrainingGraph {
  model: Model;
  /** Trainable weight names, in a fixed order. */
  params: string[];
  /** weight name -> output holding d loss / d weight. */
  gradients: Map<string, string>;
  lossOutput: string;
  logprobOutput: string;
  bucket: TrainBucket;
}

/** The float initializers of rank >= 1 (weights, norms, embeddings): what a trainer updates by default. */
export function trainableInitializers(model: Model): string[] {
  return [...model.graph.initializers].filter(([, t]) => t.dtype === 'float32' && t.dims.length >= 1).map(([n]) => n);
}

/** A copy of `model` whose initializers `names` are graph inputs instead (their values are fed). */
export function initializersAsInputs(model: Model, names: readonly string[]): Model {
  const m = cloneModel(model);
  for (const n of names) {
    const t = m.graph.initializers.get(n);
    if (!t) throw new Error(`training graph: '${n}' is not an initializer of graph '${m.graph.name}'`);
    m.graph.initializers.delete(n);
    m.graph.inputs.push({ name: n, dtype: t.dtype, shape: [...t.dims] });
  }
  return m;
}

/**
 * Builds the training graph of a seq2seq analysis graph (inputs input_ids, attention_mask,
 * decoder_input_ids; output logits [B, T, V]) for one bucket. `params` default: every float
 * initializer (trainableInitializers).
 */
export async function buildTrainingGraph(base: Model, bucket: TrainBucket, params?: readonly string[]): Promise<TrainingGraph> {
  const names = [...(params ?? trainableInitializers(base))];
  if (!names.length) throw new Error('training graph: no trainable initializers');
  const model = initializersAsInputs(base, names);
  const g = model.graph;
  const have = new Set(g.inputs.map((i) => i.name));
  for (const need of ['input_ids', 'attention_mask', 'decoder_input_ids']) {
    if (!have.has(need)) throw new Error(`training graph: the model graph has no '${need}' input (a seq2seq analysis graph is needed)`);
  }
  const logits = g.outputs.find((o) => o.name === 'logits')?.name ?? g.outputs[0]?.name;
  if (!logits) throw new Error('training graph: the model graph has no outputs');
  const opset = defaultOpset(model);
  const b = new GraphBuilder(g, 'train/');
  const { batch: B, inputLength: P, targetLength: T } = bucket;
  b.input('labels', 'int64', [B, T]);
  b.input('label_mask', 'float32', [B, T]);
  const logprob = targetLogprob(b, logits, 'labels', 'label_mask', opset, 'train/logprob');
  // Token-mean NLL: batches with more target tokens do not get a larger step.
  const total = b.op('ReduceSum', [logprob, b.ints([0])], { keepdims: 0 });
  const count = b.op('Max', [b.op('ReduceSum', ['label_mask', b.ints([0, 1])], { keepdims: 0 }), b.scalar(1)]);
  const loss = b.op('Neg', [b.op('Div', [total, count])], {}, { output: 'train/loss' });
  g.outputs = [
    { name: loss, dtype: 'float32', shape: [] },
    { name: logprob, dtype: 'float32', shape: [B] },
  ];
  model.graph = removeDeadNodes(g, { removeUnusedInputs: false });

  const inputDims: Record<string, number[]> = {
    input_ids: [B, P],
    attention_mask: [B, P],
    decoder_input_ids: [B, T],
    labels: [B, T],
    label_mask: [B, T],
  };
  for (const inp of model.graph.inputs)
    if (!inputDims[inp.name] && !names.includes(inp.name))
      throw new Error(`training graph: model input '${inp.name}' is not one the trainer knows how to feed`);
  const spec = await specialize(model, inputDims, probeShapes);
  const grad = await buildGradientGraph(spec.model, { objective: loss, wrt: names, shapes: spec.shapes });
  return { model: grad.model, params: names, gradients: grad.gradients, lossOutput: loss, logprobOutput: logprob, bucket };
}
