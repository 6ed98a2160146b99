/**
 * Which ONNX files of a model folder make up the model, and what each one is.
 *
 * Layouts (Hugging Face Optimum and transformers.js):
 *   seq2seq       onnx/encoder_model.onnx + onnx/decoder_model.onnx (preferred: no cache branch)
 *                 or onnx/decoder_model_merged.onnx; onnx/decoder_with_past_model.onnx may sit
 *                 beside them (it needs past key/values, so it is pruned but never analysed)
 *   decoder-only  onnx/model.onnx (or a decoder-only onnx/decoder_model[_merged].onnx)
 *
 * transformers.js repositories keep variants side by side: `encoder_model_quantized.onnx`,
 * `decoder_model_merged_fp16.onnx`, ... The variant is the suffix after the base name; `fp32` is
 * the file without one and the default.
 *
 * The role of each file (encoder, decoder, decoder-only) decides the stack prefix of its site
 * names and where its token axis lies; see sites.ts.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Graph, Model } from '../onnx/types.js';
import type { FileRole } from '../types/site-kinds.js';
import { readJsonFile } from '../util/json-files.js';
import { z } from 'zod';

export type ModelKind = 'seq2seq' | 'decoder-only';

/** Base names of the graphs a layout is made of, longest first so that `decoder_model_merged` is not read as `decoder_model` + `_merged`. */
const BASES = ['decoder_with_past_model', 'decoder_model_merged', 'encoder_model', 'decoder_model', 'model'] as const;
type Base = (typeof BASES)[number];

export const DEFAULT_VARIANT = 'fp32';

export interface LayoutFile {
  /** Path relative to the folder, e.g. `onnx/encoder_model.onnx`. */
  file: string;
  base: Base;
  role: FileRole;
  /** True for the files the analysis graph is built from (the rest are only pruned). */
  analysed: boolean;
}

export interface Layout {
  kind: ModelKind;
  variant: string;
  /** Encoder file (seq2seq only), relative to the folder. */
  encoder?: string;
  /** Decoder or decoder-only file the analysis graph is built from. */
  decoder: string;
  /** Every file of the chosen variant that belongs to the layout. */
  files: LayoutFile[];
  /** Why these files, one line each (what `crispr inspect` prints). */
  reasons: string[];
  /** ONNX files of the folder that were not chosen, with the reason. */
  ignored: { file: string; why: string }[];
  /** Variants present for the chosen layout's files. */
  variants: string[];
}

/** `decoder_model_merged_fp16.onnx` -> { base: 'decoder_model_merged', variant: 'fp16' }; null for other names. */
export function parseOnnxName(file: string): { base: Base; variant: string } | null {
  if (!file.endsWith('.onnx')) return null;
  const stem = file.slice(0, -'.onnx'.length);
  for (const base of BASES) {
    if (stem === base) return { base, variant: DEFAULT_VARIANT };
    if (stem.startsWith(`${base}_`)) {
      const variant = stem.slice(base.length + 1);
      // `decoder_model_merged` must not parse as decoder_model + variant `merged`.
      if (base === 'decoder_model' && (variant === 'merged' || variant.startsWith('merged_'))) continue;
      if (base === 'model' && !/^[a-z0-9]+$/.test(variant)) continue;
      return { base, variant };
    }
  }
  return null;
}

export function listOnnxFiles(dir: string): string[] {
  const onnxDir = join(dir, 'onnx');
  return existsSync(onnxDir) && statSync(onnxDir).isDirectory()
    ? readdirSync(onnxDir)
        .filter((f) => f.endsWith('.onnx'))
        .sort()
    : [];
}

export function layoutError(dir: string, why: string): Error {
  const root = existsSync(dir) ? readdirSync(dir).sort() : [];
  const onnx = listOnnxFiles(dir);
  return new Error(
    `${dir}: not a supported model folder (${why}).\n` +
      `  found: ${root.length ? root.join(', ') : 'nothing'}${onnx.length ? `; onnx/: ${onnx.join(', ')}` : ''}\n` +
      '  expected: config.json and tokenizer.json, plus either\n' +
      '    seq2seq:      onnx/encoder_model.onnx and onnx/decoder_model.onnx (or onnx/decoder_model_merged.onnx)\n' +
      '    decoder-only: onnx/model.onnx\n' +
      '  (transformers.js variants such as onnx/encoder_model_fp16.onnx are chosen with --variant)',
  );
}

/** A JSON object file of a model folder (Hugging Face's config.json, tokenizer.json, ...). */
export function readJsonObject(path: string): Record<string, unknown> {
  return readJsonFile(path, z.record(z.string(), z.unknown()));
}

/**
 * The layout of a model folder: its kind, the chosen variant's files with their roles, and the
 * reasons. `variant` defaults to fp32 (the files without a suffix).
 */
export function detectLayout(dir: string, variant: string = DEFAULT_VARIANT): Layout {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: model folder does not exist`);
  if (!existsSync(join(dir, 'config.json'))) throw layoutError(dir, 'config.json is missing');
  const config = readJsonObject(join(dir, 'config.json'));
  const all = listOnnxFiles(dir);
  const parsed = all.map((f) => ({ f, p: parseOnnxName(f) }));
  const variants = [...new Set(parsed.filter((x) => x.p).map((x) => x.p!.variant))].sort((a, b) =>
    a === DEFAULT_VARIANT ? -1 : b === DEFAULT_VARIANT ? 1 : a.localeCompare(b),
  );
  if (!variants.includes(variant)) {
    if (variant !== DEFAULT_VARIANT || !all.length) {
      throw layoutError(
        dir,
        variants.length
          ? `unknown variant '${variant}', available: ${variants.join(', ')}`
          : all.length
            ? 'the ONNX files present make up no known layout'
            : 'no onnx/*.onnx graphs',
      );
    }
    throw layoutError(dir, `no fp32 files (names without a variant suffix); available variants: ${variants.join(', ')}; choose one with --variant`);
  }
  const of = (base: Base) => parsed.find((x) => x.p?.base === base && x.p.variant === variant)?.f;
  const fileName = (f: string) => `onnx/${f}`;
  const tag =
    variant === DEFAULT_VARIANT
      ? `variant fp32 (the default${variants.length > 1 ? `; also present: ${variants.filter((v) => v !== DEFAULT_VARIANT).join(', ')}` : ''})`
      : `variant ${variant} (chosen with --variant)`;
  const reasons: string[] = [];
  const files: LayoutFile[] = [];
  let kind: ModelKind;
  let encoder: string | undefined;
  let decoder: string;

  const enc = of('encoder_model');
  const plain = of('decoder_model');
  const merged = of('decoder_model_merged');
  const withPast = of('decoder_with_past_model');
  if (enc) {
    const dec = plain ?? merged;
    if (!dec) throw layoutError(dir, `${fileName(enc)} has no decoder next to it`);
    kind = 'seq2seq';
    encoder = fileName(enc);
    decoder = fileName(dec);
    files.push({ file: encoder, base: 'encoder_model', role: 'encoder', analysed: true });
    reasons.push(`${encoder}: the encoder (site names get the prefix encoder.; every site reduces over the input tokens); ${tag}`);
    files.push({ file: decoder, base: dec === plain ? 'decoder_model' : 'decoder_model_merged', role: 'decoder', analysed: true });
    reasons.push(
      dec === plain
        ? `${decoder}: the decoder without past key/values${merged ? ` (preferred over ${fileName(merged)}, which computes the same)` : ''}`
        : `${decoder}: the merged decoder, its use_cache_branch fixed to false (no plain decoder_model file)`,
    );
    if (plain && merged) files.push({ file: fileName(merged), base: 'decoder_model_merged', role: 'decoder', analysed: false });
    if (withPast) files.push({ file: fileName(withPast), base: 'decoder_with_past_model', role: 'decoder', analysed: false });
  } else {
    const m = of('model');
    const dec = m ?? (config.is_encoder_decoder !== true ? (plain ?? merged) : undefined);
    if (!dec) {
      if (config.is_encoder_decoder === true && (plain || merged))
        throw layoutError(
          dir,
          `config.json says is_encoder_decoder but there is no onnx/encoder_model${variant === DEFAULT_VARIANT ? '' : `_${variant}`}.onnx`,
        );
      throw layoutError(dir, all.length ? 'the ONNX files present make up no known layout' : 'no onnx/*.onnx graphs');
    }
    kind = 'decoder-only';
    decoder = fileName(dec);
    files.push({ file: decoder, base: parseOnnxName(dec)!.base, role: 'decoder-only', analysed: true });
    reasons.push(`${decoder}: the decoder-only model (past key/values emptied, position_ids derived from the attention mask); ${tag}`);
    for (const other of [plain, merged].filter((x): x is string => !!x && x !== dec))
      files.push({ file: fileName(other), base: parseOnnxName(other)!.base, role: 'decoder-only', analysed: false });
    if (withPast) files.push({ file: fileName(withPast), base: 'decoder_with_past_model', role: 'decoder-only', analysed: false });
  }
  for (const f of files)
    if (!f.analysed)
      reasons.push(
        `${f.file}: not analysed (${f.base === 'decoder_with_past_model' ? 'it needs past key/values' : 'another file of the layout is used'}); pruned with the rest`,
      );
  const chosen = new Set(files.map((f) => f.file));
  const ignored = all
    .map(fileName)
    .filter((f) => !chosen.has(f))
    .map((f) => {
      const p = parseOnnxName(f.slice('onnx/'.length));
      return { file: f, why: p ? `variant ${p.variant}, not the chosen ${variant}` : 'not a file of a known layout' };
    });
  return { kind, variant, ...(encoder ? { encoder } : {}), decoder, files, reasons, ignored, variants };
}

/**
 * Quantised operators: they compute with integer weights, which have no gradient, so attribution
 * cannot run through them.
 */
const QUANTISED_OPS = new Set([
  'MatMulInteger',
  'DynamicQuantizeLinear',
  'MatMulNBits',
  'QLinearMatMul',
  'QLinearConv',
  'QLinearAdd',
  'QLinearMul',
  'QGemm',
  'QAttention',
  'DynamicQuantizeMatMul',
  'MatMulIntegerToFloat',
  'GatherBlockQuantized',
  'DequantizeLinear',
  'QuantizeLinear',
]);

export function firstQuantisedNode(g: Graph): { op: string; node: string } | null {
  for (const n of g.nodes) {
    if (QUANTISED_OPS.has(n.opType)) return { op: n.opType, node: n.name || '(unnamed)' };
    for (const a of Object.values(n.attributes)) {
      const subs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
      for (const s of subs) {
        const hit = firstQuantisedNode(s);
        if (hit) return hit;
      }
    }
  }
  return null;
}

/**
 * Refuses a graph that attribution cannot differentiate, naming the op, the node and the file,
 * and pointing to the fp32 file of the same role.
 */
export function checkDifferentiable(model: Model, dir: string, file: string, layout: Layout): void {
  const hit = firstQuantisedNode(model.graph);
  if (!hit) return;
  const base = parseOnnxName(file.slice('onnx/'.length))?.base;
  const fp32 = base ? `onnx/${base}.onnx` : undefined;
  const hasFp32 = fp32 !== undefined && existsSync(join(dir, fp32));
  throw new Error(
    `${join(dir, file)}: node '${hit.node}' is ${hit.op}, a quantised operation that cannot be differentiated (attribution needs float weights)` +
      (layout.variant !== DEFAULT_VARIANT ? ` in variant '${layout.variant}'` : '') +
      '; ' +
      (hasFp32 ? `use the fp32 file ${fp32} (the default, without --variant)` : `export the model in fp32 (no ${fp32 ?? 'fp32 file'} in this folder)`),
  );
}
