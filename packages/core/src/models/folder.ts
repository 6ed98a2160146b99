/**
 * Model folders: the Hugging Face / Optimum ONNX layout (`config.json`, `tokenizer.json`,
 * `onnx/*.onnx`), read into one analysis graph. Which files make up the model, and the role of
 * each, is layout.ts's job.
 *
 * The analysis graph has exactly the inputs `input_ids`, `attention_mask` (+ `decoder_input_ids`
 * for seq2seq) and the output `logits`: past key/value inputs become empty tensors computed in the
 * graph (every exporter concatenates past and new keys, so an empty past gives the no-cache
 * model), `position_ids` is derived from the attention mask (cumsum - 1, the Hugging Face rule),
 * and `use_cache_branch` is fixed to false with the If inlined.
 *
 * Sites are found in each file on its own, where the file's role is known (sites.ts), and each
 * site's linear node is then renamed to its module name (`/encoder.block.0.layer.0.SelfAttention.q/MatMul`),
 * so the merged graph names its sites the same way whatever the exporter called its nodes.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Model } from '../onnx/types.js';
import { readModel } from '../onnx/io.js';
import { GraphBuilder } from '../onnx/builder.js';
import { tensor } from '../onnx/tensor.js';
import { NameAllocator, cloneModel, removeDeadNodes, renameValue, topologicalSort } from '../onnx/graph.js';
import { inlineConstantIfs } from '../onnx/inline-if.js';
import { mergeGraphs } from '../onnx/merge.js';
import { upcastHalf } from '../onnx/upcast.js';
import { findSites, inspectSites, SiteDetectionError, type FileRole, type NeuronSite, type SiteInspection } from './sites.js';
import { checkFiniteWeights } from './finite-weights.js';
import { DEFAULT_VARIANT, checkDifferentiable, detectLayout, layoutError, readJsonObject, type Layout, type ModelKind } from './layout.js';

export { detectLayout, listOnnxFiles, parseOnnxName, type Layout, type LayoutFile, type ModelKind } from './layout.js';

/** The subset of @huggingface/transformers' PreTrainedTokenizer this package uses. */
export interface FolderTokenizer {
  encode(text: string, opts?: { add_special_tokens?: boolean }): number[];
  decode(ids: number[], opts?: { skip_special_tokens?: boolean }): string;
  pad_token_id?: number | null;
  bos_token_id?: number | null;
  eos_token_id?: number | null;
}

/** Site discovery in one ONNX file of the layout (what `crispr inspect` reports). */
export interface FileSites extends SiteInspection {
  file: string;
  role: FileRole;
  /** Half-precision tensors widened to float32 on load (0 for a float32 file). */
  upcast: number;
  /** Site name -> the node's name in the file (the analysis graph renames it to the site). */
  sourceNodes: Record<string, string>;
}

export interface ModelFolder {
  dir: string;
  kind: ModelKind;
  config: Record<string, unknown>;
  tokenizer: FolderTokenizer;
  /** The single analysis graph: inputs input_ids, attention_mask (+ decoder_input_ids), output logits. */
  graph: Model;
  sites: NeuronSite[];
  /** ONNX files the graph was built from, relative to dir. */
  files: string[];
  /** The layout: chosen variant and files, with the reasons. */
  layout: Layout;
  /** Site discovery per analysed file. */
  fileSites: FileSites[];
  /**
   * seq2seq only: the encoder and decoder graphs on their own (the decoder's `input_ids` renamed
   * to `decoder_input_ids`), so that scoring runs the encoder once per prompt rather than once per
   * candidate. Their sites together are exactly `sites`. Absent when the decoder has no
   * `encoder_attention_mask` input (padding could not be masked) or the split sites disagree.
   */
  parts?: Seq2seqParts;
  decoderStartTokenId?: number;
  bosTokenId?: number;
  eosTokenId?: number;
  padTokenId: number;
}

export interface Seq2seqParts {
  /** Inputs input_ids, attention_mask; output `encoderOutput`. */
  encoder: Model;
  encoderOutput: string;
  /** Inputs decoder_input_ids, encoder_hidden_states, encoder_attention_mask; output logits. */
  decoder: Model;
  encoderSites: NeuronSite[];
  decoderSites: NeuronSite[];
}

export interface LoadFolderOptions {
  /** Skip loading the tokenizer (graph-only tools such as `crispr sites`). */
  tokenizer?: boolean;
  /** Site detection strictness (see findSites); default true. */
  strictSites?: boolean;
  /** transformers.js variant (`fp16`, `quantized`, ...); default fp32, the files without a suffix. */
  variant?: string;
}

const PAST_RE = /^(past_key_values|past)[._]/;

/** Dims of a past input with batch and past length symbolic and heads / head size numeric. */
function pastDims(name: string, shape: (number | string | null)[] | null): (number | null)[] {
  if (!shape) throw new Error(`past input '${name}' has no declared shape; cannot build an empty past for it`);
  return shape.map((d) => (typeof d === 'number' && d > 0 ? d : null));
}

/**
 * A model graph cleaned for analysis: `use_cache_branch` fixed to false, past inputs replaced by
 * empty tensors, `position_ids` computed from the attention mask, `present*` outputs dropped.
 * The input is not modified.
 */
export async function siteView(model: Model): Promise<Model> {
  let m = cloneModel(model);
  const g0 = m.graph;
  if (g0.inputs.some((i) => i.name === 'use_cache_branch')) {
    m = inlineConstantIfs(m, { use_cache_branch: false });
  }
  const g = m.graph;
  const b = new GraphBuilder(g, 'crispr/');
  const batchSource =
    g.inputs.find((i) => i.name === 'input_ids') ??
    g.inputs.find((i) => i.name === 'encoder_hidden_states') ??
    g.inputs.find((i) => i.name === 'attention_mask');
  const pastInputs = g.inputs.filter((i) => PAST_RE.test(i.name));
  if (pastInputs.length) {
    if (!batchSource) throw new Error(`graph '${g.name}' has past inputs but no input_ids to take the batch size from`);
    // batch = Shape(input_ids)[0:1]
    const batch = b.op('Slice', [b.op('Shape', [batchSource.name]), b.ints([0]), b.ints([1]), b.ints([0])], {}, { name: 'crispr/past/batch' });
    for (const p of pastInputs) {
      const numeric = pastDims(p.name, p.shape);
      // Layout [batch, heads, past_len, head_size] (or [batch, past_len, ...]): every dim but the
      // batch must be numeric except one, which is the (empty) past length.
      const unknown = numeric.map((d, i) => (i > 0 && d === null ? i : -1)).filter((i) => i >= 0);
      if (unknown.length !== 1)
        throw new Error(`past input '${p.name}' has shape [${p.shape}]; expected the batch and one past-length axis symbolic, the rest numeric`);
      const rest = numeric.slice(1).map((d) => d ?? 0);
      const shape = b.op('Concat', [batch, b.ints(rest)], { axis: 0 });
      const value = tensor(p.dtype, [1]);
      b.op('ConstantOfShape', [shape], { value: { type: 'tensor', value } }, { output: p.name, name: `crispr/past/${p.name}` });
    }
    g.inputs = g.inputs.filter((i) => !PAST_RE.test(i.name));
  }
  const pos = g.inputs.find((i) => i.name === 'position_ids');
  if (pos) {
    if (!g.inputs.some((i) => i.name === 'attention_mask')) throw new Error(`graph '${g.name}' takes position_ids but no attention_mask to derive them from`);
    const cum = b.op('CumSum', [b.op('Cast', ['attention_mask'], { to: 7 }), b.scalar(1, 'int64')]);
    b.op('Max', [b.op('Sub', [cum, b.scalar(1, 'int64')]), b.scalar(0, 'int64')], {}, { output: 'position_ids', name: 'crispr/position_ids' });
    g.inputs = g.inputs.filter((i) => i.name !== 'position_ids');
  }
  // Unique node names (exporters and optimisers leave some empty or repeated): a site names its node.
  // An unnamed node is called by its op and its index in the file, which is how a user finds it.
  const names = new NameAllocator();
  g.nodes.forEach((n, i) => (n.name = names.fresh(n.name || `unnamed ${n.opType} #${i}`)));
  // The nodes added above were appended; topologicalSort moves them before their readers.
  const outputs = g.outputs.filter((o) => !/^present/.test(o.name));
  if (outputs.length) g.outputs = outputs;
  m.graph = topologicalSort(removeDeadNodes(g, { removeUnusedInputs: false }));
  return m;
}

/** Renames and merges a cleaned encoder and decoder into one graph with decoder_input_ids. */
function mergeSeq2seq(encoder: Model, decoder: Model, where: string): Model {
  const encOut = encoder.graph.outputs[0]?.name;
  if (!encOut) throw new Error(`${where}: the encoder graph has no outputs`);
  const decIn = new Set(decoder.graph.inputs.map((i) => i.name));
  for (const need of ['input_ids', 'encoder_hidden_states'])
    if (!decIn.has(need)) throw new Error(`${where}: the decoder graph has no '${need}' input (inputs: ${[...decIn].join(', ')})`);
  if (decIn.has('decoder_input_ids')) throw new Error(`${where}: the decoder graph already has a 'decoder_input_ids' input`);
  const dec = cloneModel(decoder);
  renameValue(dec.graph, 'input_ids', 'decoder_input_ids');
  // No name prefixes: node names keep the exporter's module scopes (`/decoder/block.0/...`), which
  // name the sites; the rare clash of internal names gets a numeric suffix from mergeGraphs.
  return mergeGraphs(encoder, dec, {
    connect: { encoder_hidden_states: encOut },
    ...(decIn.has('encoder_attention_mask') ? { shareInputs: { encoder_attention_mask: 'attention_mask' } } : {}),
    prefixEncoder: '',
    prefixDecoder: '',
    name: 'seq2seq',
  });
}

/** The encoder and decoder for split scoring, or undefined when they cannot stand in for the merged graph. */
function splitParts(encoder: Model, decoder: Model, sites: NeuronSite[]): Seq2seqParts | undefined {
  const encoderOutput = encoder.graph.outputs[0]?.name;
  const decIn = new Set(decoder.graph.inputs.map((i) => i.name));
  if (!encoderOutput || !decIn.has('encoder_attention_mask') || !decIn.has('encoder_hidden_states')) return undefined;
  if (decoder.graph.inputs.find((i) => i.name === 'encoder_attention_mask')!.dtype !== 'int64') return undefined;
  const enc = cloneModel(encoder);
  enc.graph.outputs = enc.graph.outputs.slice(0, 1);
  enc.graph = removeDeadNodes(enc.graph);
  const dec = cloneModel(decoder);
  renameValue(dec.graph, 'input_ids', 'decoder_input_ids');
  const logits = dec.graph.outputs.find((o) => o.name === 'logits');
  if (!logits) return undefined;
  dec.graph.outputs = [logits];
  dec.graph = removeDeadNodes(dec.graph);
  const encoderSites = findSites(enc, { strict: false, seq2seq: true });
  const decoderSites = findSites(dec, { strict: false, seq2seq: true });
  const names = [...encoderSites, ...decoderSites].map((s) => `${s.name}:${s.width}`).sort();
  const want = sites.map((s) => `${s.name}:${s.width}`).sort();
  if (names.length !== want.length || names.some((n, i) => n !== want[i])) return undefined;
  return { encoder: enc, encoderOutput, decoder: dec, encoderSites, decoderSites };
}

function numberOrUndefined(...xs: unknown[]): number | undefined {
  for (const x of xs) {
    if (typeof x === 'number' && Number.isInteger(x) && x >= 0) return x;
    if (Array.isArray(x) && typeof x[0] === 'number') return x[0];
  }
  return undefined;
}

let tokenizerEnvSet = false;

/** The folder's tokenizer through @huggingface/transformers, local files only. */
export async function loadTokenizer(dir: string): Promise<FolderTokenizer> {
  if (!existsSync(join(dir, 'tokenizer.json'))) throw layoutError(dir, 'tokenizer.json is missing');
  const { AutoTokenizer, env } = await import('@huggingface/transformers');
  if (!tokenizerEnvSet) {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    tokenizerEnvSet = true;
  }
  try {
    return (await AutoTokenizer.from_pretrained(resolve(dir), { local_files_only: true })) as unknown as FolderTokenizer;
  } catch (e) {
    throw new Error(`${dir}: cannot load the tokenizer: ${(e as Error).message}`);
  }
}

/** Number of token ids tokenizer.json can produce (largest id + 1 over its vocabulary and added tokens). */
export function tokenizerIdCount(dir: string): number {
  const file = join(dir, 'tokenizer.json');
  const tok = readJsonObject(file) as { model?: { vocab?: unknown }; added_tokens?: { id?: unknown }[] };
  let max = -1;
  const vocab = tok.model?.vocab;
  if (Array.isArray(vocab))
    max = vocab.length - 1; // Unigram: [[piece, score], ...]
  else if (vocab && typeof vocab === 'object')
    for (const id of Object.values(vocab as Record<string, unknown>)) if (typeof id === 'number' && id > max) max = id;
  for (const t of tok.added_tokens ?? []) if (typeof t.id === 'number' && t.id > max) max = t.id;
  if (max < 0) throw new Error(`${file}: no vocabulary found (model.vocab and added_tokens are empty)`);
  return max + 1;
}

/**
 * A tokenizer that can emit ids the model has no embedding for would index past the embedding
 * table (silently wrong numbers or a crash deep in ORT), so the folder is refused up front.
 */
function checkTokenizerFitsModel(dir: string, config: Record<string, unknown>, model: Model): void {
  const logits = model.graph.outputs.find((o) => o.name === 'logits');
  const fromGraph = logits?.shape?.[logits.shape.length - 1];
  const modelVocab = typeof config.vocab_size === 'number' ? config.vocab_size : typeof fromGraph === 'number' ? fromGraph : undefined;
  if (modelVocab === undefined) return;
  const ids = tokenizerIdCount(dir);
  if (ids > modelVocab) {
    throw new Error(
      `${dir}: the tokenizer and the model disagree: tokenizer.json produces ids up to ${ids - 1}, but the model has ${modelVocab} vocabulary entries (config.json vocab_size / logits); is tokenizer.json from another model?`,
    );
  }
}

/**
 * Reads one file of the layout for analysis: refuses quantised graphs, widens half precision,
 * cleans it (siteView) and finds its sites by its role, then renames each site's linear node to
 * the site's module name.
 */
export async function analyseFile(
  root: string,
  file: string,
  role: FileRole,
  layout: Layout,
  config: Record<string, unknown>,
): Promise<{ view: Model; found: FileSites }> {
  const raw = readModel(join(root, file));
  checkDifferentiable(raw, root, file, layout);
  const { model, changed } = upcastHalf(raw);
  const view = await siteView(model);
  // config.json lets unnamed linear layers be named from the graph's structure.
  const inspection = inspectSites(view, { role, config });
  // siteView made node names unique, so a site's matmul name identifies its node.
  const byNode = new Map(inspection.sites.map((s) => [s.matmul, s]));
  const sourceNodes: Record<string, string> = {};
  for (const n of view.graph.nodes) {
    const site = byNode.get(n.name);
    if (!site) continue;
    sourceNodes[site.name] = n.name;
    n.name = site.matmul = `/${site.name}/${n.opType}`;
  }
  return { view, found: { file, role, upcast: changed, sourceNodes, ...inspection } };
}

function siteKey(s: NeuronSite): string {
  return `${s.name}:${s.kind}:${s.side}:${s.width}`;
}

export async function loadModelFolder(dir: string, opts: LoadFolderOptions = {}): Promise<ModelFolder> {
  const root = resolve(dir);
  const layout = detectLayout(root, opts.variant ?? DEFAULT_VARIANT);
  const config = readJsonObject(join(root, 'config.json'));
  const gen = existsSync(join(root, 'generation_config.json')) ? readJsonObject(join(root, 'generation_config.json')) : {};
  const tokenizer: FolderTokenizer = opts.tokenizer === false ? nullTokenizer(root) : await loadTokenizer(root);

  const analysed = layout.files.filter((f) => f.analysed);
  const views: Model[] = [];
  const fileSites: FileSites[] = [];
  for (const f of analysed) {
    const { view, found } = await analyseFile(root, f.file, f.role, layout, config);
    views.push(view);
    fileSites.push(found);
  }
  checkFiniteWeights(
    root,
    analysed.map((f, i) => ({ file: f.file, model: views[i]! })),
  );
  const unrecognised = fileSites.flatMap((f) => f.unrecognised.map((u) => `${f.file}: ${u}`));
  if (unrecognised.length && (opts.strictSites ?? true)) {
    throw SiteDetectionError.listing(
      `${root}: ${unrecognised.length} linear layer(s) whose module name could not be recovered from their node or weight names (an optimiser may have renamed them), so their kind and layer are unknown`,
      unrecognised,
    );
  }

  let graph: Model;
  const files = analysed.map((f) => f.file);
  const split = layout.kind === 'seq2seq' ? { encoder: views[0]!, decoder: views[1]! } : undefined;
  graph = split ? mergeSeq2seq(split.encoder, split.decoder, root) : views[0]!;
  const logits = graph.graph.outputs.find((o) => o.name === 'logits');
  if (!logits) throw new Error(`${root}: the ${layout.decoder} graph has no 'logits' output (outputs: ${graph.graph.outputs.map((o) => o.name).join(', ')})`);
  graph.graph.outputs = [logits];
  graph = { ...graph, graph: removeDeadNodes(graph.graph, { removeUnusedInputs: false }) };
  const expected = layout.kind === 'seq2seq' ? ['input_ids', 'attention_mask', 'decoder_input_ids'] : ['input_ids', 'attention_mask'];
  const extra = graph.graph.inputs.map((i) => i.name).filter((n) => !expected.includes(n));
  if (extra.length) throw new Error(`${root}: the model graph has inputs this loader cannot feed: ${extra.join(', ')} (expected ${expected.join(', ')})`);
  for (const e of expected) if (!graph.graph.inputs.some((i) => i.name === e)) throw new Error(`${root}: the model graph has no '${e}' input`);

  if (opts.tokenizer !== false) checkTokenizerFitsModel(root, config, graph);
  // The merged graph's sites are read from the canonical node names; they must be exactly the
  // per-file sites, on the same sides (a merge that lost or renamed one is our bug, not the user's).
  const sites = findSites(graph, { strict: false, ...(layout.kind === 'seq2seq' ? { seq2seq: true } : { role: 'decoder-only' as const }) });
  const want = fileSites
    .flatMap((f) => f.sites)
    .map(siteKey)
    .sort();
  const got = sites.map(siteKey).sort();
  if (want.join('|') !== got.join('|')) {
    const missing = want.filter((k) => !got.includes(k));
    const added = got.filter((k) => !want.includes(k));
    throw new Error(
      `${root}: internal error: the merged graph's sites differ from the files' (missing ${missing.slice(0, 5).join(', ') || 'none'}; unexpected ${added.slice(0, 5).join(', ') || 'none'})`,
    );
  }
  if (!sites.length) {
    const matmuls = graph.graph.nodes.filter((n) => n.opType === 'MatMul' || n.opType === 'Gemm').length;
    throw new Error(
      `${root}: no neuron sites found among ${matmuls} matrix products of ${files.join(', ')}: a site needs a MatMul/Gemm whose weight is a float initializer (run crispr inspect --model ${dir} to see what was found)`,
    );
  }
  const parts = split ? splitParts(split.encoder, split.decoder, sites) : undefined;
  const eos = numberOrUndefined(config.eos_token_id, gen.eos_token_id, tokenizer.eos_token_id);
  const bos = numberOrUndefined(config.bos_token_id, gen.bos_token_id, tokenizer.bos_token_id);
  const pad = numberOrUndefined(config.pad_token_id, gen.pad_token_id, tokenizer.pad_token_id, eos) ?? 0;
  const start = numberOrUndefined(config.decoder_start_token_id, gen.decoder_start_token_id);
  if (layout.kind === 'seq2seq' && start === undefined) throw new Error(`${root}: config.json has no decoder_start_token_id (needed to score seq2seq targets)`);
  return {
    dir: root,
    kind: layout.kind,
    config,
    tokenizer,
    graph,
    sites,
    files,
    layout,
    fileSites,
    ...(parts ? { parts } : {}),
    ...(start !== undefined && layout.kind === 'seq2seq' ? { decoderStartTokenId: start } : {}),
    ...(bos !== undefined ? { bosTokenId: bos } : {}),
    ...(eos !== undefined ? { eosTokenId: eos } : {}),
    padTokenId: pad,
  };
}

function nullTokenizer(dir: string): FolderTokenizer {
  const fail = (): never => {
    throw new Error(`${dir}: the folder was loaded without its tokenizer`);
  };
  return { encode: fail, decode: fail };
}
