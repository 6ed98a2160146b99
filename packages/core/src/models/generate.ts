/**
 * Greedy generation under any site-mask set, for evaluating a model the way chat-style users do
 * (its free answer, judged against the options afterwards), not only by option likelihood.
 *
 * - decoder-only with a key/value cache graph (cache.ts): the prompts run once, right-padded;
 *   each step feeds one new token per row on top of the cached keys and values. Positions come
 *   from the attention mask (cumsum - 1), so the padding inside a right-padded past is harmless.
 * - seq2seq with split parts: the encoder runs once per prompt; the decoder runs on the tokens
 *   generated so far (answers are a few tokens; no decoder cache graph is needed).
 * - otherwise: the full analysis graph on prompt + generated tokens, one row at a time.
 * A row stops at EOS, at a newline (decoder-only: the answer is one line), or at maxNewTokens.
 */
import type { Model, Tensor } from '../onnx/types.js';
import { tensor } from '../onnx/tensor.js';
import { SessionCache, modelHash, type SessionOptions } from '../runtime/session.js';
import { addSiteMasks, maskFeeds, maskInputName } from './masks.js';
import { cacheGraph, emptyPast } from './cache.js';
import { rightPadded } from './scoring.js';
import type { ModelFolder } from './folder.js';

export interface GenerateOptions {
  masks?: Record<string, Float32Array>;
  /** New tokens at most per prompt (default 16). */
  maxNewTokens?: number;
  batchSize?: number;
  provider?: SessionOptions['provider'];
  /** 'full' forces the one-row full-graph loop (the reference the faster paths are tested against). */
  path?: 'auto' | 'full';
}

const sessions = new SessionCache({}, 4);
const graphs = new WeakMap<ModelFolder, Map<string, { model: Model; hash: string }>>();

function graphFor(folder: ModelFolder, name: string, build: () => Model): { model: Model; hash: string } {
  let m = graphs.get(folder);
  if (!m) graphs.set(folder, (m = new Map()));
  let g = m.get(name);
  if (!g) {
    const model = build();
    m.set(name, (g = { model, hash: modelHash(model) }));
  }
  return g;
}

const int64 = (dims: number[], values: number[]): Tensor => tensor('int64', dims, values);

/** argmax over the vocabulary of row b, position t of logits [B, T, V]. */
function argmaxAt(logits: Tensor, b: number, t: number): number {
  const [, T, V] = logits.dims as [number, number, number];
  const data = logits.data as Float32Array;
  const off = (b * T + t) * V;
  let best = 0;
  for (let v = 1; v < V; v++) if (data[off + v]! > data[off + best]!) best = v;
  return best;
}

/** The prompts of `order`, batch by batch: the item indices and the prompts right-padded to the longest (P). */
function* paddedBatches(order: readonly number[], batchSize: number, ids: readonly number[][], pad: number) {
  for (let s = 0; s < order.length; s += batchSize) {
    const rows = order.slice(s, s + batchSize);
    const {
      width: P,
      flat,
      mask,
    } = rightPadded(
      rows.map((i) => ids[i]!),
      pad,
    );
    yield { rows, B: rows.length, P, flat, mask };
  }
}

export async function generateGreedy(folder: ModelFolder, prompts: readonly string[], opts: GenerateOptions = {}): Promise<string[]> {
  const maxNew = opts.maxNewTokens ?? 16;
  const batchSize = opts.batchSize ?? 8;
  const masks = maskFeeds(folder.sites, opts.masks ?? {});
  const tok = folder.tokenizer;
  const eos = folder.eosTokenId ?? tok.eos_token_id ?? -1;
  const out: string[] = new Array(prompts.length);
  const ids = prompts.map((p) => tok.encode(p));
  const finish = (i: number, gen: number[]) => {
    let text = tok.decode(gen, { skip_special_tokens: true });
    if (folder.kind === 'decoder-only') text = text.split('\n')[0]!;
    out[i] = text.trim();
  };
  const done = (gen: number[]) => gen.at(-1) === eos || (folder.kind === 'decoder-only' && tok.decode(gen.slice(-1)).includes('\n'));
  const order = prompts.map((_, i) => i).sort((a, b) => ids[b]!.length - ids[a]!.length || a - b);

  const auto = opts.path !== 'full';
  const cache = auto && folder.kind === 'decoder-only' ? cacheGraph(folder) : undefined;
  if (cache) {
    const g = graphFor(folder, 'cache', () => addSiteMasks(cache.model, folder.sites).model);
    const session = await sessions.get(g.hash, 'dynamic', () => g.model);
    const presentNames = cache.layers.flatMap((l) => [l.presentKey, l.presentValue]);
    for (const { rows, B, P, flat, mask } of paddedBatches(order, batchSize, ids, folder.padTokenId)) {
      let res = await session.run({ input_ids: int64([B, P], flat), attention_mask: int64([B, P], mask), ...emptyPast(cache, B), ...masks }, [
        'logits',
        ...presentNames,
      ]);
      const gen: number[][] = rows.map(() => []);
      const live = rows.map(() => true);
      let next = rows.map((i, b) => argmaxAt(res.logits!, b, ids[i]!.length - 1));
      let attn = mask;
      let width = P;
      for (let step = 0; step < maxNew; step++) {
        next.forEach((t, b) => {
          if (!live[b]) return;
          gen[b]!.push(t);
          if (done(gen[b]!) || gen[b]!.length >= maxNew) live[b] = false;
        });
        if (!live.some(Boolean)) break;
        const past: Record<string, Tensor> = {};
        cache.layers.forEach((l) => {
          past[l.key] = res[l.presentKey]!;
          past[l.value] = res[l.presentValue]!;
        });
        const grown: number[] = [];
        for (let b = 0; b < B; b++) grown.push(...attn.slice(b * width, (b + 1) * width), 1);
        width += 1;
        attn = grown;
        res = await session.run({ input_ids: int64([B, 1], next), attention_mask: int64([B, width], attn), ...past, ...masks }, ['logits', ...presentNames]);
        next = rows.map((_, b) => argmaxAt(res.logits!, b, 0));
      }
      rows.forEach((i, b) => finish(i, gen[b]!));
    }
    return out;
  }

  if (auto && folder.kind === 'seq2seq' && folder.parts) {
    const parts = folder.parts;
    const eg = graphFor(folder, 'encoder', () => addSiteMasks(parts.encoder, parts.encoderSites).model);
    const dg = graphFor(folder, 'decoder', () => addSiteMasks(parts.decoder, parts.decoderSites).model);
    const enc = await sessions.get(eg.hash, 'dynamic', () => eg.model);
    const dec = await sessions.get(dg.hash, 'dynamic', () => dg.model);
    const pick = (names: string[]) => Object.fromEntries(names.filter((n) => n in masks).map((n) => [n, masks[n]!]));
    const encMasks = pick(parts.encoderSites.map((s) => maskInputName(s.name)));
    const decMasks = pick(parts.decoderSites.map((s) => maskInputName(s.name)));
    const start = folder.decoderStartTokenId ?? folder.padTokenId;
    for (const { rows, B, P, flat, mask } of paddedBatches(order, batchSize, ids, folder.padTokenId)) {
      const attention = int64([B, P], mask);
      const states = (await enc.run({ input_ids: int64([B, P], flat), attention_mask: attention, ...encMasks }, [parts.encoderOutput]))[parts.encoderOutput]!;
      const gen: number[][] = rows.map(() => []);
      const live = rows.map(() => true);
      for (let step = 0; step < maxNew && live.some(Boolean); step++) {
        // Finished rows keep decoding pads; their outputs are ignored.
        const dec_ids = gen.flatMap((g) => [start, ...g, ...new Array<number>(step - g.length).fill(folder.padTokenId)]);
        const res = await dec.run(
          { decoder_input_ids: int64([B, step + 1], dec_ids), encoder_hidden_states: states, encoder_attention_mask: attention, ...decMasks },
          ['logits'],
        );
        rows.forEach((_, b) => {
          if (!live[b]) return;
          gen[b]!.push(argmaxAt(res.logits!, b, step));
          if (done(gen[b]!)) live[b] = false;
        });
      }
      rows.forEach((i, b) => finish(i, gen[b]!));
    }
    return out;
  }

  // No cache graph and no split parts: the full graph, one row at a time.
  const fg = graphFor(folder, 'full', () => addSiteMasks(folder.graph, folder.sites).model);
  const full = await sessions.get(fg.hash, 'dynamic', () => fg.model);
  for (const i of order) {
    const gen: number[] = [];
    for (let step = 0; step < maxNew; step++) {
      const feeds: Record<string, Tensor> = { ...masks };
      let at: number;
      if (folder.kind === 'seq2seq') {
        feeds.input_ids = int64([1, ids[i]!.length], ids[i]!);
        feeds.attention_mask = int64(
          [1, ids[i]!.length],
          ids[i]!.map(() => 1),
        );
        feeds.decoder_input_ids = int64([1, gen.length + 1], [folder.decoderStartTokenId ?? folder.padTokenId, ...gen]);
        at = gen.length;
      } else {
        const seq = [...ids[i]!, ...gen];
        feeds.input_ids = int64([1, seq.length], seq);
        feeds.attention_mask = int64(
          [1, seq.length],
          seq.map(() => 1),
        );
        at = seq.length - 1;
      }
      const res = await full.run(feeds, ['logits']);
      gen.push(argmaxAt(res.logits!, 0, at));
      if (done(gen)) break;
    }
    finish(i, gen);
  }
  return out;
}

/** Releases the generation sessions. */
export async function releaseGenerationSessions(): Promise<void> {
  await sessions.clear();
}
