/**
 * Option scoring: log P(candidate | prompt) by teacher forcing, for batches of prompts and
 * candidate continuations, under any site-mask set.
 *
 * One graph serves every mask set: the folder's analysis graph with site masks (addSiteMasks),
 * plus the candidate positions' rows through the LM head, LogSoftmax and a gather of each
 * target token's log-probability, so only one number per candidate token leaves onnxruntime. Rows are sorted by length and right-padded per batch;
 * padding never changes a row's result (pads sit after every real token and are masked as keys).
 *
 * Tokenisation (documented contract):
 * - seq2seq: the prompt is tokenised with the tokenizer's special tokens (T5 appends `</s>`); the
 *   candidate is tokenised alone without special tokens and is the decoder target; the decoder
 *   input is `[decoder_start_token_id] + target[:-1]`. `appendEos` (default false) adds EOS to the
 *   target, scoring "the answer and nothing more".
 * - decoder-only: the prompt is tokenised with special tokens (BOS when the tokenizer adds one).
 *   The candidate's tokens are those of `prompt + candidate` after the prompt's tokens, when the
 *   prompt's tokens are a prefix of them: this is exactly how the model sees the candidate inside
 *   the full string (SentencePiece's dummy prefix and merges across the boundary included).
 *   When the boundary merges (the full string's tokens do not start with the prompt's), the
 *   candidate is tokenised alone without special tokens and appended to the prompt's tokens, so
 *   every candidate is still scored after the same prompt tokens.
 * - Token-id arrays are used as given (no special tokens added).
 */
import type { Model, Tensor } from '../onnx/types.js';
import { GraphBuilder } from '../onnx/builder.js';
import { removeDeadNodes } from '../onnx/graph.js';
import { tensor } from '../onnx/tensor.js';
import { defaultOpset } from '../onnx/types.js';
import { SessionCache, modelHash, type ExecutionProvider, type SessionOptions } from '../runtime/session.js';
import { addSiteMasks, maskFeeds, maskInputName } from './masks.js';
import { gatherTargetLogits } from './head.js';
import { cacheGraph, pastFor, prefixModel, type CacheGraph } from './cache.js';
import { promptCaches } from './prompt-cache.js';
import { checkShareRows, shareRows, type ShareRowsOptions } from '../onnx/share-rows.js';
import { probeShapes } from '../runtime/shape-probe.js';
import type { ModelFolder, Seq2seqParts } from './folder.js';
import type { ModelSession } from '../runtime/session.js';

export interface ScoreItem {
  prompt: string | number[];
  candidates: (string | number[])[];
}

export interface CandidateScore {
  /** Sum of the target tokens' log-probabilities (natural log). */
  logprob: number;
  /** Number of target tokens. */
  tokens: number;
  tokenLogprobs: number[];
}

export interface ScoreOptions {
  /** Site masks by site name; sites not given get ones. */
  masks?: Record<string, Float32Array>;
  /**
   * Prompts per ORT run, and rows (prompt x candidate pairs) per run where every row carries its
   * prompt (the merged seq2seq graph, decoder-only without a cache graph); default 16. Where rows
   * share their prompt's states (encoder states, keys and values), a run takes up to four times as
   * many candidate rows.
   */
  batchSize?: number;
  provider?: ExecutionProvider;
  intraOpThreads?: number;
  /** seq2seq: append EOS to every candidate target (default false). */
  appendEos?: boolean;
  /**
   * seq2seq: run the encoder once per prompt and the decoder per candidate (default true when the
   * folder has separate parts); false runs the merged graph per candidate. Results agree to float
   * rounding either way.
   */
  shareEncoder?: boolean;
  /**
   * Decoder-only with a cache graph: tokens per prompt pass (default PREFILL_SEGMENT, 64); longer
   * prompts run in segments, each on the cache of the ones before, which skips most of the masked
   * half of causal attention. Results agree to float rounding for any value.
   */
  prefillSegment?: number;
}

/** One teacher-forced row: token ids and the positions whose next-token predictions are scored. */
export interface ScoringRow {
  item: number;
  candidate: number;
  /** Encoder input (seq2seq) or the whole sequence prompt + candidate (decoder-only). */
  inputIds: number[];
  /** seq2seq only: [decoder_start] + target[:-1]. */
  decoderInputIds?: number[];
  /** The candidate's tokens. */
  target: number[];
  /** Index in the logits' sequence axis that predicts target[0]; the rest follow consecutively. */
  firstPosition: number;
}

/**
 * Tokenisation memo per folder: a run encodes the same prompts and candidates again for every
 * sweep point and for attribution, and the JavaScript tokenizer costs about as much as scoring a
 * small model (a BBQ prompt and its three candidates in context: about 10 ms). Least recently used
 * entries go once the memo holds ENCODE_MEMO_BYTES (text and ids), so that a sweep over several
 * categories keeps the prompts it is scoring instead of starting over.
 */
export const ENCODE_MEMO_BYTES = 256 * 2 ** 20;

interface EncodeMemo {
  entries: Map<string, Int32Array>;
  bytes: number;
}

const encoded = new WeakMap<ModelFolder, EncodeMemo>();
const entryBytes = (key: string, ids: Int32Array) => 2 * key.length + ids.byteLength + 64;

function encodeText(folder: ModelFolder, text: string, special: boolean): number[] {
  let memo = encoded.get(folder);
  if (!memo) encoded.set(folder, (memo = { entries: new Map(), bytes: 0 }));
  const key = `${special ? 1 : 0}${text}`;
  let ids = memo.entries.get(key);
  if (ids) {
    // Most recently used last: Map keeps insertion order.
    memo.entries.delete(key);
    memo.entries.set(key, ids);
  } else {
    ids = Int32Array.from(folder.tokenizer.encode(text, { add_special_tokens: special }));
    memo.entries.set(key, ids);
    memo.bytes += entryBytes(key, ids);
    for (const [k, v] of memo.entries) {
      if (memo.bytes <= ENCODE_MEMO_BYTES) break;
      memo.entries.delete(k);
      memo.bytes -= entryBytes(k, v);
    }
  }
  return Array.from(ids);
}

function checkIds(ids: number[], what: string, vocab: number | undefined): void {
  for (const t of ids) {
    if (!Number.isInteger(t) || t < 0 || (vocab !== undefined && t >= vocab))
      throw new Error(`${what}: token id ${t} is not in the vocabulary${vocab ? ` (size ${vocab})` : ''}`);
  }
}

/** Tokenises a scoring batch into teacher-forced rows (see the module comment for the rules). */
export function encodeScoringRows(folder: ModelFolder, batch: readonly ScoreItem[], opts: { appendEos?: boolean } = {}): ScoringRow[] {
  const rows: ScoringRow[] = [];
  const vocab = typeof folder.config.vocab_size === 'number' ? folder.config.vocab_size : undefined;
  batch.forEach((item, i) => {
    if (!item.candidates.length) throw new Error(`scoreOptions: item ${i} has no candidates`);
    const promptIds = typeof item.prompt === 'string' ? encodeText(folder, item.prompt, true) : [...item.prompt];
    checkIds(promptIds, `item ${i} prompt`, vocab);
    item.candidates.forEach((c, j) => {
      const where = `item ${i} candidate ${j}`;
      if (folder.kind === 'seq2seq') {
        if (!promptIds.length) throw new Error(`${where}: the prompt has no tokens`);
        const target = typeof c === 'string' ? encodeText(folder, c, false) : [...c];
        if (opts.appendEos) {
          if (folder.eosTokenId === undefined) throw new Error('scoreOptions: appendEos needs an eos_token_id in config.json');
          target.push(folder.eosTokenId);
        }
        if (!target.length) throw new Error(`${where}: the candidate has no tokens`);
        checkIds(target, where, vocab);
        rows.push({
          item: i,
          candidate: j,
          inputIds: promptIds,
          decoderInputIds: [folder.decoderStartTokenId!, ...target.slice(0, -1)],
          target,
          firstPosition: 0,
        });
      } else {
        let target: number[];
        if (typeof c !== 'string') target = [...c];
        else if (typeof item.prompt === 'string') {
          const full = encodeText(folder, item.prompt + c, true);
          const shares = full.length > promptIds.length && promptIds.every((t, k) => full[k] === t);
          target = shares ? full.slice(promptIds.length) : encodeText(folder, c, false);
        } else target = encodeText(folder, c, false);
        if (!target.length) throw new Error(`${where}: the candidate has no tokens`);
        if (!promptIds.length)
          throw new Error(`${where}: the prompt has no tokens (a decoder-only model needs at least one token, e.g. BOS, before the candidate)`);
        checkIds(target, where, vocab);
        rows.push({ item: i, candidate: j, inputIds: [...promptIds, ...target], target, firstPosition: promptIds.length - 1 });
      }
    });
  });
  return rows;
}

interface ScoringGraph {
  model: Model;
  hash: string;
}

interface FolderGraphs {
  merged?: ScoringGraph;
  encoder?: ScoringGraph;
  decoder?: ScoringGraph;
  /** The decoder with per-prompt encoder states (shareRows); null where it does not apply. */
  sharedDecoder?: Promise<ScoringGraph | null>;
  prompt?: ScoringGraph;
  continuation?: ScoringGraph;
}

const graphs = new WeakMap<ModelFolder, FolderGraphs>();

/**
 * Adds inputs `target_index` and `target_ids` [n] and output `token_logprobs[i] =
 * log softmax(logits row target_index[i])[target_ids[i]]`, where rows are the flattened
 * [batch * length] positions: only the positions that predict a candidate token reach the LM
 * head and the softmax (gatherTargetLogits), never prompt or padding positions.
 */
function appendTokenLogprobs(model: Model, where: string): Model {
  const g = model.graph;
  const logits = g.outputs.find((o) => o.name === 'logits');
  if (!logits) throw new Error(`${where}: the model graph has no 'logits' output`);
  const b = new GraphBuilder(g, 'score/');
  b.input('target_index', 'int64', ['n']);
  b.input('target_ids', 'int64', ['n']);
  const rows = gatherTargetLogits(g, b, 'logits', 'target_index');
  // Half-precision models: normalise in float32 so that scores are comparable across models.
  const l32 = logits.dtype === 'float32' ? rows : b.op('Cast', [rows], { to: 1 });
  const logp = b.op('LogSoftmax', [l32], { axis: -1 });
  const opset13 = defaultOpset(model) >= 13;
  const idx = opset13 ? b.op('Unsqueeze', ['target_ids', b.ints([1])]) : b.op('Unsqueeze', ['target_ids'], { axes: [1] });
  const picked = b.op('GatherElements', [logp, idx], { axis: 1 });
  const out = opset13
    ? b.op('Squeeze', [picked, b.ints([1])], {}, { output: 'token_logprobs' })
    : b.op('Squeeze', [picked], { axes: [1] }, { output: 'token_logprobs' });
  g.outputs = [{ name: out, dtype: 'float32', shape: ['n'] }];
  // The LM head over every position is dead now (onnxruntime would still run it).
  return { ...model, graph: removeDeadNodes(g) };
}

/** The masked analysis graph plus the `token_logprobs` output (see appendTokenLogprobs). */
export function buildScoringModel(folder: ModelFolder): Model {
  return appendTokenLogprobs(addSiteMasks(folder.graph, folder.sites).model, folder.dir);
}

function scoringGraph(model: Model): ScoringGraph {
  // Kept as IR, not bytes: createSession hands models past 2 GB to ORT as external-data files.
  return { model, hash: modelHash(model) };
}

function folderGraphs(folder: ModelFolder): FolderGraphs {
  let s = graphs.get(folder);
  if (!s) graphs.set(folder, (s = {}));
  return s;
}

function mergedGraph(folder: ModelFolder): ScoringGraph {
  const fg = folderGraphs(folder);
  return (fg.merged ??= scoringGraph(buildScoringModel(folder)));
}

function splitGraphs(folder: ModelFolder, parts: Seq2seqParts): { encoder: ScoringGraph; decoder: ScoringGraph } {
  const fg = folderGraphs(folder);
  fg.encoder ??= scoringGraph(addSiteMasks(parts.encoder, parts.encoderSites).model);
  fg.decoder ??= scoringGraph(appendTokenLogprobs(addSiteMasks(parts.decoder, parts.decoderSites).model, folder.dir));
  return { encoder: fg.encoder, decoder: fg.decoder };
}

/**
 * Candidate rows per run, as a multiple of the prompts per run (batchSize), where a row is only
 * its candidate's few positions on shared prompt states: a chunk's three or four answers a prompt
 * then go in one run instead of three or four.
 */
const CANDIDATE_ROWS_PER_PROMPT_BATCH = 4;

/** Inputs of the decoder that hold one row per prompt once shared, and the index that spreads them to rows. */
const DECODER_SHARE: ShareRowsOptions = { shared: ['encoder_hidden_states', 'encoder_attention_mask'], index: 'encoder_rows' };

/**
 * The decoder computing what depends on the encoder states alone (cross-attention keys and
 * values) once per prompt instead of once per candidate; null when the decoder has no such part or
 * its shapes do not allow it (then every candidate row carries its prompt's states).
 */
function sharedDecoderGraph(folder: ModelFolder, decoder: ScoringGraph): Promise<ScoringGraph | null> {
  const fg = folderGraphs(folder);
  fg.sharedDecoder ??= (async () => {
    // Site masks have no batch axis: a masked cross-attention projection stays on the prompt side.
    const masks = folder.parts?.decoderSites.map((s) => maskInputName(s.name)) ?? [];
    const opts: ShareRowsOptions = { ...DECODER_SHARE, broadcast: masks.filter((m) => decoder.model.graph.inputs.some((i) => i.name === m)) };
    const shared = shareRows(decoder.model, opts);
    if (!shared) return null;
    const d = Number(folder.config.d_model ?? folder.config.hidden_size);
    if (!Number.isInteger(d) || d < 1) return null;
    const dims = { decoder_input_ids: [2, 2], encoder_hidden_states: [2, 3, d], encoder_attention_mask: [2, 3], target_index: [2], target_ids: [2] };
    try {
      await checkShareRows(decoder.model, shared, opts, dims, probeShapes);
    } catch {
      return null;
    }
    return scoringGraph(shared.model);
  })();
  return fg.sharedDecoder;
}

/** The masked decoder that seq2seq scoring runs with cross-attention keys and values per prompt; null where its rows carry their prompt's states. */
export async function sharedScoringDecoder(folder: ModelFolder): Promise<Model | null> {
  if (folder.kind !== 'seq2seq' || !folder.parts) return null;
  return (await sharedDecoderGraph(folder, splitGraphs(folder, folder.parts).decoder))?.model ?? null;
}

/** Decoder-only with a cache graph: the prompt pass (present keys/values) and the candidate pass. */
function cachedGraphs(folder: ModelFolder, c: CacheGraph): { prompt: ScoringGraph; continuation: ScoringGraph } {
  const fg = folderGraphs(folder);
  // Masks first: the prompt pass drops the LM head and the last layer's later sites with it.
  fg.prompt ??= scoringGraph(prefixModel({ ...c, model: addSiteMasks(c.model, folder.sites).model }));
  fg.continuation ??= scoringGraph(appendTokenLogprobs(addSiteMasks(c.model, folder.sites).model, folder.dir));
  return { prompt: fg.prompt, continuation: fg.continuation };
}

const caches = new Map<string, SessionCache>();

function cacheFor(opts: SessionOptions): SessionCache {
  const key = `${opts.provider ?? 'cpu'}|${opts.intraOpThreads ?? 0}|${opts.allowSpinning ?? true}`;
  let c = caches.get(key);
  if (!c) caches.set(key, (c = new SessionCache(opts, 8)));
  return c;
}

/** Releases every cached scoring session. */
export async function releaseScoringSessions(): Promise<void> {
  await Promise.all([...caches.values()].map((c) => c.clear()));
  caches.clear();
}

const int64 = (dims: number[], values: number[]): Tensor => tensor('int64', dims, values);

/**
 * Log-probability of each candidate of each item; result[i][j] is item i's candidate j.
 * Rows run in batches of `batchSize` (longest first) under one mask set.
 */
export async function scoreOptions(folder: ModelFolder, batch: readonly ScoreItem[], opts: ScoreOptions = {}): Promise<CandidateScore[][]> {
  return scoreRows(
    folder,
    encodeScoringRows(folder, batch, opts),
    batch.map((it) => it.candidates.length),
    opts,
  );
}

/**
 * scoreOptions on rows already encoded (encodeScoringRows): `candidates[i]` is item i's number of
 * candidates. Lets a caller tokenise once (with its memo) and score elsewhere (a worker thread).
 */
export async function scoreRows(
  folder: ModelFolder,
  rows: ScoringRow[],
  candidates: readonly number[],
  opts: Omit<ScoreOptions, 'appendEos'> = {},
): Promise<CandidateScore[][]> {
  const masks = maskFeeds(folder.sites, opts.masks ?? {});
  const batchSize = opts.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`scoreOptions: batchSize must be a positive integer, got ${batchSize}`);
  const sessOpts: SessionOptions = {
    ...(opts.provider ? { provider: opts.provider } : {}),
    ...(opts.intraOpThreads !== undefined ? { intraOpThreads: opts.intraOpThreads } : {}),
    // Scoring alternates between sessions (encoder and decoder, prompt and continuation) whose
    // pools would each spin after their run and take a core from the next one.
    allowSpinning: false,
  };
  const cache = cacheFor(sessOpts);
  const results: CandidateScore[][] = candidates.map((n) => new Array<CandidateScore>(n));
  const record = (chunk: ScoringRow[], lp: Float32Array) => {
    let at = 0;
    for (const r of chunk) {
      const tokenLogprobs = Array.from(lp.subarray(at, (at += r.target.length)));
      let sum = 0;
      for (const x of tokenLogprobs) sum += x;
      results[r.item]![r.candidate] = { logprob: sum, tokens: r.target.length, tokenLogprobs };
    }
  };
  if (folder.kind === 'seq2seq' && folder.parts && opts.shareEncoder !== false) {
    const sg = splitGraphs(folder, folder.parts);
    // Dynamic shapes: one session per graph serves every batch shape, so the bucket is 'dynamic'.
    const enc = await cache.get(sg.encoder.hash, 'dynamic', () => sg.encoder.model);
    const shared = await sharedDecoderGraph(folder, sg.decoder);
    const dg = shared ?? sg.decoder;
    const dec = await cache.get(dg.hash, 'dynamic', () => dg.model);
    await scoreSplit(folder, folder.parts, rows, masks, batchSize, enc, dec, shared !== null, record);
    return results;
  }
  const cached = folder.kind === 'decoder-only' ? cacheGraph(folder) : undefined;
  if (cached) {
    const cg = cachedGraphs(folder, cached);
    const prompt = await cache.get(cg.prompt.hash, 'dynamic', () => cg.prompt.model);
    const cont = await cache.get(cg.continuation.hash, 'dynamic', () => cg.continuation.model);
    await scoreCached(folder, cached, rows, masks, batchSize, prompt, cont, record, opts.prefillSegment);
    return results;
  }
  const sg = mergedGraph(folder);
  const session = await cache.get(sg.hash, 'dynamic', () => sg.model);
  const order = rows.map((_, i) => i).sort((a, b) => rowLength(rows[b]!) - rowLength(rows[a]!) || a - b);
  for (let start = 0; start < order.length; start += batchSize) {
    const chunk = order.slice(start, start + batchSize).map((i) => rows[i]!);
    const feeds: Record<string, Tensor> = { ...masks };
    let L: number;
    if (folder.kind === 'seq2seq') {
      const enc = padRows(
        chunk.map((r) => r.inputIds),
        folder.padTokenId,
      );
      const dec = padRows(
        chunk.map((r) => r.decoderInputIds!),
        folder.padTokenId,
      );
      L = dec.width;
      feeds.input_ids = enc.ids;
      feeds.attention_mask = enc.mask;
      feeds.decoder_input_ids = dec.ids;
    } else {
      const seq = padRows(
        chunk.map((r) => r.inputIds),
        folder.padTokenId,
      );
      L = seq.width;
      feeds.input_ids = seq.ids;
      feeds.attention_mask = seq.mask;
    }
    Object.assign(feeds, targetFeeds(chunk, L));
    const out = await session.run(feeds, ['token_logprobs']);
    record(chunk, out.token_logprobs!.data as Float32Array);
  }
  return results;
}

/** `target_index` (row b's position firstPosition + k, flattened as b * L + ...) and `target_ids`, row after row. */
function targetFeeds(chunk: ScoringRow[], L: number): { target_index: Tensor; target_ids: Tensor } {
  const index: number[] = [];
  const ids: number[] = [];
  chunk.forEach((r, b) => {
    r.target.forEach((t, k) => {
      index.push(b * L + r.firstPosition + k);
      ids.push(t);
    });
  });
  return { target_index: int64([index.length], index), target_ids: int64([ids.length], ids) };
}

/** Rows right-padded to `width` (default the longest): flattened ids and their 0/1 attention mask. */
export function rightPadded(
  rows: readonly (readonly number[])[],
  pad: number,
  width = Math.max(...rows.map((r) => r.length)),
): { width: number; flat: number[]; mask: number[] } {
  const flat: number[] = [];
  const mask: number[] = [];
  for (const r of rows) {
    for (let t = 0; t < width; t++) {
      flat.push(t < r.length ? r[t]! : pad);
      mask.push(t < r.length ? 1 : 0);
    }
  }
  return { width, flat, mask };
}

/** Right-padded [rows, width] int64 ids and their 0/1 mask. */
function padRows(rows: number[][], pad: number, width?: number): { ids: Tensor; mask: Tensor; width: number } {
  const p = rightPadded(rows, pad, width);
  return { ids: int64([rows.length, p.width], p.flat), mask: int64([rows.length, p.width], p.mask), width: p.width };
}

/**
 * seq2seq with a shared encoder: items in chunks of `batchSize` prompts go through the encoder
 * once; their candidate rows then go through the decoder in batches of `batchSize`, each row
 * reading its prompt's encoder states (padding masked by encoder_attention_mask).
 */
async function scoreSplit(
  folder: ModelFolder,
  parts: Seq2seqParts,
  rows: ScoringRow[],
  masks: Record<string, Tensor>,
  batchSize: number,
  enc: ModelSession,
  dec: ModelSession,
  sharedPrompts: boolean,
  record: (chunk: ScoringRow[], lp: Float32Array) => void,
): Promise<void> {
  const encMasks = pick(
    masks,
    parts.encoderSites.map((s) => maskInputName(s.name)),
  );
  const decMasks = pick(
    masks,
    parts.decoderSites.map((s) => maskInputName(s.name)),
  );
  const { byItem, items } = groupByItem(rows, (r) => r.inputIds.length);
  for (let start = 0; start < items.length; start += batchSize) {
    const chunk = items.slice(start, start + batchSize);
    const prompts = padRows(
      chunk.map((i) => byItem.get(i)![0]!.inputIds),
      folder.padTokenId,
    );
    const P = prompts.width;
    const encOut = (await enc.run({ input_ids: prompts.ids, attention_mask: prompts.mask, ...encMasks }, [parts.encoderOutput]))[parts.encoderOutput]!;
    const D = encOut.dims[2]!;
    const states = encOut.data as Float32Array;
    const promptMask = prompts.mask.data as BigInt64Array;
    const slot = new Map(chunk.map((item, k) => [item, k]));
    // With shared prompts a batch of rows carries each of its prompts once: rows stay by item.
    const chunkRows = chunk.flatMap((i) => byItem.get(i)!);
    if (!sharedPrompts) chunkRows.sort((a, b) => b.target.length - a.target.length);
    // Candidate rows are a few tokens each once their prompts' states are shared: more per run.
    const rowBatch = sharedPrompts ? CANDIDATE_ROWS_PER_PROMPT_BATCH * batchSize : batchSize;
    for (let s = 0; s < chunkRows.length; s += rowBatch) {
      const sub = chunkRows.slice(s, s + rowBatch);
      const B = sub.length;
      // The prompts these rows read: all of them once each (shared) or one per row.
      const prompts = sharedPrompts ? [...new Set(sub.map((r) => slot.get(r.item)!))] : sub.map((r) => slot.get(r.item)!);
      const n = prompts.length;
      const hidden = new (states.constructor as Float32ArrayConstructor)(n * P * D);
      const attn = new BigInt64Array(n * P);
      prompts.forEach((k, b) => {
        hidden.set(states.subarray(k * P * D, (k + 1) * P * D), b * P * D);
        attn.set(promptMask.subarray(k * P, (k + 1) * P), b * P);
      });
      const rowFeeds: Record<string, Tensor> = sharedPrompts
        ? {
            [DECODER_SHARE.index]: int64(
              [B],
              sub.map((r) => prompts.indexOf(slot.get(r.item)!)),
            ),
          }
        : {};
      const decIds = padRows(
        sub.map((r) => r.decoderInputIds!),
        folder.padTokenId,
      );
      const L = decIds.width;
      const out = await dec.run(
        {
          decoder_input_ids: decIds.ids,
          encoder_hidden_states: { dtype: encOut.dtype, dims: [n, P, D], data: hidden },
          encoder_attention_mask: { dtype: 'int64', dims: [n, P], data: attn },
          ...rowFeeds,
          ...targetFeeds(sub, L),
          ...decMasks,
        },
        ['token_logprobs'],
      );
      record(sub, out.token_logprobs!.data as Float32Array);
    }
  }
}

/** Rows grouped by item, items longest prompt first. */
function groupByItem(rows: ScoringRow[], promptLength: (r: ScoringRow) => number): { byItem: Map<number, ScoringRow[]>; items: number[] } {
  const byItem = new Map<number, ScoringRow[]>();
  for (const r of rows) {
    let l = byItem.get(r.item);
    if (!l) byItem.set(r.item, (l = []));
    l.push(r);
  }
  const items = [...byItem.keys()].sort((a, b) => promptLength(byItem.get(b)![0]!) - promptLength(byItem.get(a)![0]!) || a - b);
  return { byItem, items };
}

/**
 * Decoder-only with a cache graph: prompts in chunks of `batchSize` run once (all but their last
 * token, right-padded, masked); each candidate row then runs only [last prompt token] +
 * candidate[:-1] on top of its prompt's keys and values, and those positions are scored.
 */
async function scoreCached(
  folder: ModelFolder,
  c: CacheGraph,
  rows: ScoringRow[],
  masks: Record<string, Tensor>,
  batchSize: number,
  promptSession: ModelSession,
  contSession: ModelSession,
  record: (chunk: ScoringRow[], lp: Float32Array) => void,
  segment?: number,
): Promise<void> {
  const { byItem, items } = groupByItem(rows, (r) => r.firstPosition);
  // Every prompt but its last token goes through the cache; prompts that share a prefix run it once.
  const prefixes = items.map((item) => {
    const r = byItem.get(item)![0]!;
    return r.inputIds.slice(0, r.firstPosition);
  });
  for await (const pc of promptCaches(c, promptSession, prefixes, batchSize, folder.padTokenId, masks, segment)) {
    const chunk = pc.members.map((m) => items[m]!);
    const { present, mask: prefixMask, width: Pp } = pc;
    const slot = new Map(chunk.map((item, k) => [item, k]));
    const chunkRows = chunk.flatMap((i) => byItem.get(i)!).sort((a, b) => b.target.length - a.target.length);
    // Candidate rows run a few positions each on their prompt's cache: more per run.
    const rowBatch = CANDIDATE_ROWS_PER_PROMPT_BATCH * batchSize;
    for (let s = 0; s < chunkRows.length; s += rowBatch) {
      const sub = chunkRows.slice(s, s + rowBatch);
      // The window: the positions that predict the candidate's tokens.
      const windows = sub.map((r) => r.inputIds.slice(r.firstPosition, r.firstPosition + r.target.length));
      const win = padRows(windows, folder.padTokenId);
      const W = win.width;
      const winMask = win.mask.data as BigInt64Array;
      const attn = new BigInt64Array(sub.length * (Pp + W));
      sub.forEach((r, b) => {
        const k = slot.get(r.item)!;
        attn.set(prefixMask.subarray(k * Pp, (k + 1) * Pp), b * (Pp + W));
        attn.set(winMask.subarray(b * W, (b + 1) * W), b * (Pp + W) + Pp);
      });
      const out = await contSession.run(
        {
          input_ids: win.ids,
          attention_mask: { dtype: 'int64', dims: [sub.length, Pp + W], data: attn },
          ...pastFor(
            c,
            present,
            sub.map((r) => slot.get(r.item)!),
          ),
          ...targetFeeds(
            sub.map((r) => ({ ...r, firstPosition: 0 })),
            W,
          ),
          ...masks,
        },
        ['token_logprobs'],
      );
      record(sub, out.token_logprobs!.data as Float32Array);
    }
  }
}

function pick(feeds: Record<string, Tensor>, names: string[]): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const n of names) out[n] = feeds[n]!;
  return out;
}

function rowLength(r: ScoringRow): number {
  return r.inputIds.length + (r.decoderInputIds?.length ?? 0);
}
