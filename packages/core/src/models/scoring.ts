/**
 * Option scoring: log P(candidate | prompt) by teacher forcing, for batches of prompts and
 * candidate continuations, under any site-mask set.
 *
 * One graph serves every mask set: the folder's analysis graph with site masks (addSiteMasks),
 * plus LogSoftmax and a gather of each position's next-token log-probability, so only a
 * [batch, length] array leaves onnxruntime. Rows are sorted by length and right-padded per batch;
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
import { encodeModel } from '../onnx/io.js';
import { tensor } from '../onnx/tensor.js';
import { defaultOpset } from '../onnx/types.js';
import { SessionCache, hashBytes, type ExecutionProvider, type SessionOptions } from '../runtime/session.js';
import { addSiteMasks, maskFeeds } from './masks.js';
import type { ModelFolder } from './folder.js';

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
  /** Rows (prompt x candidate pairs) per ORT run; default 16. */
  batchSize?: number;
  provider?: ExecutionProvider;
  intraOpThreads?: number;
  /** seq2seq: append EOS to every candidate target (default false). */
  appendEos?: boolean;
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

function encodeText(folder: ModelFolder, text: string, special: boolean): number[] {
  return folder.tokenizer.encode(text, { add_special_tokens: special });
}

function checkIds(ids: number[], what: string, vocab: number | undefined): void {
  for (const t of ids) {
    if (!Number.isInteger(t) || t < 0 || (vocab !== undefined && t >= vocab)) throw new Error(`${what}: token id ${t} is not in the vocabulary${vocab ? ` (size ${vocab})` : ''}`);
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
        rows.push({ item: i, candidate: j, inputIds: promptIds, decoderInputIds: [folder.decoderStartTokenId!, ...target.slice(0, -1)], target, firstPosition: 0 });
      } else {
        let target: number[];
        if (typeof c !== 'string') target = [...c];
        else if (typeof item.prompt === 'string') {
          const full = encodeText(folder, item.prompt + c, true);
          const shares = full.length > promptIds.length && promptIds.every((t, k) => full[k] === t);
          target = shares ? full.slice(promptIds.length) : encodeText(folder, c, false);
        } else target = encodeText(folder, c, false);
        if (!target.length) throw new Error(`${where}: the candidate has no tokens`);
        if (!promptIds.length) throw new Error(`${where}: the prompt has no tokens (a decoder-only model needs at least one token, e.g. BOS, before the candidate)`);
        checkIds(target, where, vocab);
        rows.push({ item: i, candidate: j, inputIds: [...promptIds, ...target], target, firstPosition: promptIds.length - 1 });
      }
    });
  });
  return rows;
}

interface ScoringGraph {
  bytes: Uint8Array;
  hash: string;
}

const graphs = new WeakMap<ModelFolder, ScoringGraph>();

/** The masked analysis graph plus `token_logprobs[b, t] = log softmax(logits[b, t])[target_ids[b, t]]`. */
export function buildScoringModel(folder: ModelFolder): Model {
  const { model } = addSiteMasks(folder.graph, folder.sites);
  const g = model.graph;
  const logits = g.outputs.find((o) => o.name === 'logits');
  if (!logits) throw new Error(`${folder.dir}: the model graph has no 'logits' output`);
  const b = new GraphBuilder(g, 'score/');
  b.input('target_ids', 'int64', ['batch', 'length']);
  const logp = b.op('LogSoftmax', ['logits'], { axis: -1 });
  const idx = defaultOpset(model) >= 13 ? b.op('Unsqueeze', ['target_ids', b.ints([2])]) : b.op('Unsqueeze', ['target_ids'], { axes: [2] });
  const picked = b.op('GatherElements', [logp, idx], { axis: 2 });
  const out = defaultOpset(model) >= 13 ? b.op('Squeeze', [picked, b.ints([2])], {}, { output: 'token_logprobs' }) : b.op('Squeeze', [picked], { axes: [2] }, { output: 'token_logprobs' });
  g.outputs = [{ name: out, dtype: 'float32', shape: ['batch', 'length'] }];
  return model;
}

function scoringGraph(folder: ModelFolder): ScoringGraph {
  let s = graphs.get(folder);
  if (!s) {
    const bytes = encodeModel(buildScoringModel(folder));
    s = { bytes, hash: hashBytes(bytes) };
    graphs.set(folder, s);
  }
  return s;
}

const caches = new Map<string, SessionCache>();

function cacheFor(opts: SessionOptions): SessionCache {
  const key = `${opts.provider ?? 'cpu'}|${opts.intraOpThreads ?? 0}`;
  let c = caches.get(key);
  if (!c) caches.set(key, (c = new SessionCache(opts, 4)));
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
  const rows = encodeScoringRows(folder, batch, opts);
  const masks = maskFeeds(folder.sites, opts.masks ?? {});
  const batchSize = opts.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`scoreOptions: batchSize must be a positive integer, got ${batchSize}`);
  const sg = scoringGraph(folder);
  const sessOpts: SessionOptions = { ...(opts.provider ? { provider: opts.provider } : {}), ...(opts.intraOpThreads !== undefined ? { intraOpThreads: opts.intraOpThreads } : {}) };
  // Dynamic shapes: one session per graph serves every batch shape, so the bucket is 'dynamic'.
  const session = await cacheFor(sessOpts).get(sg.hash, 'dynamic', () => sg.bytes);
  const results: CandidateScore[][] = batch.map((it) => new Array<CandidateScore>(it.candidates.length));
  const order = rows.map((_, i) => i).sort((a, b) => rowLength(rows[b]!) - rowLength(rows[a]!) || a - b);
  const pad = folder.padTokenId;
  for (let start = 0; start < order.length; start += batchSize) {
    const chunk = order.slice(start, start + batchSize).map((i) => rows[i]!);
    const B = chunk.length;
    const feeds: Record<string, Tensor> = { ...masks };
    let L: number;
    const targetIds: number[] = [];
    if (folder.kind === 'seq2seq') {
      const P = Math.max(...chunk.map((r) => r.inputIds.length));
      L = Math.max(...chunk.map((r) => r.target.length));
      const ids: number[] = [];
      const mask: number[] = [];
      const dec: number[] = [];
      for (const r of chunk) {
        for (let t = 0; t < P; t++) {
          ids.push(t < r.inputIds.length ? r.inputIds[t]! : pad);
          mask.push(t < r.inputIds.length ? 1 : 0);
        }
        for (let t = 0; t < L; t++) {
          dec.push(t < r.decoderInputIds!.length ? r.decoderInputIds![t]! : pad);
          targetIds.push(t < r.target.length ? r.target[t]! : 0);
        }
      }
      feeds.input_ids = int64([B, P], ids);
      feeds.attention_mask = int64([B, P], mask);
      feeds.decoder_input_ids = int64([B, L], dec);
    } else {
      L = Math.max(...chunk.map((r) => r.inputIds.length));
      const ids: number[] = [];
      const mask: number[] = [];
      for (const r of chunk) {
        for (let t = 0; t < L; t++) {
          ids.push(t < r.inputIds.length ? r.inputIds[t]! : pad);
          mask.push(t < r.inputIds.length ? 1 : 0);
          // Position t predicts token t + 1.
          targetIds.push(t + 1 < r.inputIds.length ? r.inputIds[t + 1]! : 0);
        }
      }
      feeds.input_ids = int64([B, L], ids);
      feeds.attention_mask = int64([B, L], mask);
    }
    feeds.target_ids = int64([B, L], targetIds);
    const out = await session.run(feeds, ['token_logprobs']);
    const lp = out.token_logprobs!.data as Float32Array;
    chunk.forEach((r, b) => {
      const tokenLogprobs = r.target.map((_, k) => lp[b * L + r.firstPosition + k]!);
      let sum = 0;
      for (const x of tokenLogprobs) sum += x;
      results[r.item]![r.candidate] = { logprob: sum, tokens: r.target.length, tokenLogprobs };
    });
  }
  return results;
}

function rowLength(r: ScoringRow): number {
  return r.inputIds.length + (r.decoderInputIds?.length ?? 0);
}
