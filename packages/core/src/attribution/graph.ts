/**
 * Attribution graphs: forward pass, objective, backward pass and token reduction as one ONNX
 * graph, so that only a [batch, width] array per site leaves onnxruntime.
 *
 * Inputs (all with the bucket's concrete shapes):
 *   seq2seq:      input_ids, attention_mask [B, P]; decoder_input_ids, labels, label_mask [B, T]
 *   decoder-only: input_ids, attention_mask, labels, label_mask [B, L]
 *   every site:   mask.<site> [width] (ones = the unmodified model)
 * `labels[b, t]` is the token predicted at position t and `label_mask[b, t]` is 1 where that
 * prediction is a target token. The objective of example b is
 *   log P(target_b) = sum_t label_mask[b, t] * log softmax(logits[b, t])[labels[b, t]]
 * (or its exp). Examples in a batch never attend to each other, so the gradient of the batch
 * sum with respect to h gives every example's own gradient in one backward pass.
 */
import type { Model } from '../onnx/types.js';
import { GraphBuilder } from '../onnx/builder.js';
import { specialize } from '../onnx/specialize.js';
import { buildGradientGraph } from '../autodiff/engine.js';
import { reduceOp, unsqueeze } from '../autodiff/emit.js';
import { targetLogprob } from './objective.js';
import { defaultOpset } from '../onnx/types.js';
import { addSiteMasks } from '../models/masks.js';
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
}

const LOWEST_F32 = -3.4028234663852886e38;

export async function buildAttributionGraph(
  base: Model,
  kind: 'seq2seq' | 'decoder-only',
  sites: NeuronSite[],
  bucket: AttributionBucket,
  opts: { objective?: AttributionObjective; reduce?: TokenReduction } = {},
): Promise<AttributionGraph> {
  const objectiveKind = opts.objective ?? 'logprob';
  const reduce = opts.reduce ?? 'max';
  const masked = addSiteMasks(base, sites);
  const model = masked.model;
  const g = model.graph;
  const opset = defaultOpset(model);
  const logits = g.outputs.find((o) => o.name === 'logits')?.name ?? g.outputs[0]?.name;
  if (!logits) throw new Error('attribution: the model graph has no outputs');
  const b = new GraphBuilder(g, 'attr/');

  const { batch: B, inputLength: P, targetLength: T } = bucket;
  const L = kind === 'seq2seq' ? T : P;
  b.input('labels', 'int64', [B, L]);
  b.input('label_mask', 'float32', [B, L]);

  // Objective: masked sum of the target tokens' log-probabilities.
  const logprob = targetLogprob(b, logits, 'labels', 'label_mask', opset, 'attr/logprob');
  const objective = objectiveKind === 'prob' ? b.op('Exp', [logprob], {}, { output: 'attr/objective' }) : b.op('Identity', [logprob], {}, { output: 'attr/objective' });
  const total = b.op('ReduceSum', [objective, b.ints([0])], { keepdims: 0 }, { output: 'attr/total' });
  // The scalar total is an output too, so that specialisation's dead-node pass keeps it.
  g.outputs = [
    { name: objective, dtype: 'float32', shape: [B] },
    { name: logprob, dtype: 'float32', shape: [B] },
    { name: total, dtype: 'float32', shape: [] },
  ];

  const inputDims: Record<string, number[]> = { input_ids: [B, P], attention_mask: [B, P], labels: [B, L], label_mask: [B, L] };
  if (kind === 'seq2seq') inputDims.decoder_input_ids = [B, T];
  for (const s of sites) inputDims[masked.maskInputs.get(s.name)!] = [s.width];
  for (const inp of g.inputs) if (!inputDims[inp.name]) throw new Error(`attribution: model input '${inp.name}' is not one the attribution graph knows how to feed`);

  const spec = await specialize(model, inputDims);
  const hNames = sites.map((s) => masked.maskedOutputs.get(s.name)!);
  const grad = await buildGradientGraph(spec.model, { objective: total, wrt: hNames, shapes: spec.shapes });
  const out = grad.model;
  // The gradient graph keeps the forward outputs; attribution outputs are added below.
  out.graph.outputs = out.graph.outputs.filter((o) => o.name === objective || o.name === logprob);
  const rb = new GraphBuilder(out.graph, 'attr/reduce/');

  const targetMask = 'label_mask';
  const inputMask = kind === 'seq2seq' ? rb.op('Cast', ['attention_mask'], { to: 1 }) : targetMask;
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
    const m = unsqueeze(rb, s.side === 'input' ? inputMask : targetMask, [2], opset); // [B, tokens, 1]
    let r: string;
    if (reduce === 'max') {
      const valid = rb.op('Greater', [m, rb.scalar(0)]);
      const validOnly = rb.op('Where', [valid, a, rb.scalar(LOWEST_F32)]);
      const mx = reduceOp(rb, 'ReduceMax', validOnly, [1], false, opset);
      // An example with no valid token (a batch filler) gets 0, not -FLT_MAX.
      const any = rb.op('Greater', [reduceOp(rb, 'ReduceSum', m, [1], false, opset), rb.scalar(0)]);
      r = rb.op('Where', [any, mx, rb.scalar(0)]);
    } else {
      const summed = reduceOp(rb, 'ReduceSum', rb.op('Mul', [a, m]), [1], false, opset);
      if (reduce === 'sum') r = summed;
      else {
        const count = rb.op('Max', [reduceOp(rb, 'ReduceSum', m, [1], false, opset), rb.scalar(1)]);
        r = rb.op('Div', [summed, count]);
      }
    }
    const name = `attr.${s.name}`;
    rb.op('Identity', [r], {}, { output: name });
    out.graph.outputs.push({ name, dtype: 'float32', shape: [B, s.width] });
    outputs.set(s.name, name);
  });

  return { model: out, sites, maskInputs: masked.maskInputs, outputs, objectiveOutput: objective, logprobOutput: logprob, bucket, kind };
}
