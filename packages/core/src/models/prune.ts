/**
 * Pruned export: the chosen output units of linear layers zeroed in weight and bias, written as a
 * plain model folder of the source's layout, so @huggingface/transformers (or anything else that
 * reads the source) loads it unchanged. Zeroing unit u's weight column and bias entry makes the
 * linear's output u exactly 0, which is what a 0 in the site mask does after the linear.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { Model, Node, Tensor } from '../onnx/types.js';
import { readModel, writeModel } from '../onnx/io.js';
import { cloneTensor } from '../onnx/tensor.js';
import type { NeuronSite } from './sites.js';
import { findSites } from './sites.js';
import { siteView } from './folder.js';
import { detectLayout, firstQuantisedNode, listOnnxFiles, parseOnnxName } from './layout.js';
import { expected, readJsonFile } from '../util/json-files.js';

export interface NeuronRef {
  site: string;
  unit: number;
}

export interface RankedNeuron extends NeuronRef {
  score?: number;
}

/** Groups neurons by site, validating names and unit ranges against `sites`. */
export function groupNeurons(sites: readonly NeuronSite[], neurons: readonly NeuronRef[], where = 'neurons'): Map<string, number[]> {
  const byName = new Map(sites.map((s) => [s.name, s]));
  const out = new Map<string, number[]>();
  neurons.forEach((n, i) => {
    const s = byName.get(n.site);
    if (!s) {
      const close = sites
        .filter((x) => x.name.endsWith(n.site.split('.').slice(-2).join('.')))
        .slice(0, 3)
        .map((x) => x.name);
      throw new Error(`${where}[${i}]: unknown site '${n.site}'${close.length ? ` (similar: ${close.join(', ')})` : ''}; the model has ${sites.length} sites`);
    }
    if (!Number.isInteger(n.unit) || n.unit < 0 || n.unit >= s.width)
      throw new Error(`${where}[${i}]: site '${n.site}' has width ${s.width}; unit ${n.unit} is out of range`);
    let l = out.get(n.site);
    if (!l) out.set(n.site, (l = []));
    if (!l.includes(n.unit)) l.push(n.unit);
  });
  return out;
}

function zeroUnits(t: Tensor, axis: 0 | 1 | null, units: readonly number[], what: string): void {
  const data = t.data;
  if (Array.isArray(data)) throw new Error(`${what}: string tensor`);
  if (t.dtype !== 'float32' && t.dtype !== 'float64' && t.dtype !== 'float16' && t.dtype !== 'bfloat16') {
    throw new Error(`${what}: dtype ${t.dtype} is not a float type; quantised weights cannot be pruned by zeroing`);
  }
  // 0 is all-zero bits in every float format, so a plain 0 store works for half types too.
  const zero = (i: number) => ((data as Float32Array)[i] = 0);
  if (axis === null) {
    for (const u of units) zero(u);
    return;
  }
  const [rows, cols] = t.dims as [number, number];
  for (const u of units) {
    if (axis === 1) for (let r = 0; r < rows; r++) zero(r * cols + u);
    else for (let c = 0; c < cols; c++) zero(u * cols + c);
  }
}

/**
 * Zeroes the given units of the given sites in `model`'s initializers (a copy; the input is left
 * unchanged). `sites` must have been found on this model or on a graph sharing its initializer
 * names (a merged decoder's inlined branch).
 */
export function pruneModel(model: Model, sites: readonly NeuronSite[], units: Map<string, number[]>): Model {
  const inits = new Map(model.graph.initializers);
  const cloned = new Set<string>();
  const writable = (name: string, what: string): Tensor => {
    const t = inits.get(name);
    if (!t) throw new Error(`${what}: initializer '${name}' is not in the model`);
    if (cloned.has(name)) return t;
    const c = cloneTensor(t);
    inits.set(name, c);
    cloned.add(name);
    return c;
  };
  checkWeightsNotShared(model, sites, units);
  for (const s of sites) {
    const u = units.get(s.name);
    if (!u?.length) continue;
    const w = writable(s.weight, `site '${s.name}' weight`);
    const axisDim = w.dims[s.weightUnitAxis];
    if (w.dims.length !== 2 || axisDim !== s.width)
      throw new Error(`site '${s.name}': weight '${s.weight}' has shape [${w.dims}], expected width ${s.width} on axis ${s.weightUnitAxis}`);
    zeroUnits(w, s.weightUnitAxis, u, `site '${s.name}' weight '${s.weight}'`);
    if (s.bias) zeroUnits(writable(s.bias, `site '${s.name}' bias`), null, u, `site '${s.name}' bias '${s.bias}'`);
  }
  return { ...model, graph: { ...model.graph, initializers: inits } };
}

/** A weight also read by something other than a linear layer (a tied embedding) cannot be zeroed in place. */
function checkWeightsNotShared(model: Model, sites: readonly NeuronSite[], units: Map<string, number[]>): void {
  const readers = new Map<string, Node[]>();
  const visit = (nodes: Node[]) => {
    for (const n of nodes) {
      for (const i of n.inputs) {
        if (!i) continue;
        let l = readers.get(i);
        if (!l) readers.set(i, (l = []));
        l.push(n);
      }
      for (const a of Object.values(n.attributes)) {
        if (a.type === 'graph') visit(a.value.nodes);
        else if (a.type === 'graphs') for (const g of a.value) visit(g.nodes);
      }
    }
  };
  visit(model.graph.nodes);
  for (const s of sites) {
    if (!units.get(s.name)?.length) continue;
    const bad = (readers.get(s.weight) ?? []).filter((n) => !['MatMul', 'Gemm', 'Transpose', 'Identity'].includes(n.opType));
    if (bad.length)
      throw new Error(
        `site '${s.name}': weight '${s.weight}' is also read by ${bad[0]!.opType} node '${bad[0]!.name}' (a tied weight); zeroing it would change that node too`,
      );
  }
}

const rankedNeuron = z.object({
  site: z.string(),
  unit: z.int(expected('a non-negative integer')).nonnegative(expected('a non-negative integer')),
  score: z.number().optional(),
});

/** A ranking file: `{ neurons: [{ site, unit, score? }, ...] }` best first, or a bare array, or `{ ranking: [...] }`. */
const rankingFile = z.preprocess(
  (v) => (Array.isArray(v) ? { neurons: v } : v !== null && typeof v === 'object' && !('neurons' in v) && 'ranking' in v ? { neurons: v.ranking } : v),
  z.object({ neurons: z.array(rankedNeuron) }, { error: 'expected { "neurons": [ { "site": ..., "unit": ... }, ... ] }' }),
);

/** Reads a ranking file (see rankingFile). */
export function readRanking(path: string): RankedNeuron[] {
  return readJsonFile(path, rankingFile).neurons;
}

export interface PruneFolderResult {
  outDir: string;
  neurons: NeuronRef[];
  /** ONNX files written pruned, relative to the folder. */
  pruned: string[];
  /** ONNX files of the source left out (variants whose weights we cannot prune, e.g. quantised). */
  skipped: string[];
  /** Other files copied. */
  copied: string[];
}

/** External data file of an ONNX file, if the source keeps one next to it. */
function externalDataName(onnxDir: string, file: string): string | null {
  for (const cand of [`${file}_data`, `${file}.data`, `${file.replace(/\.onnx$/, '')}.onnx_data`]) if (existsSync(join(onnxDir, cand))) return cand;
  return null;
}

/** A weight of a quantised file cannot be zeroed per unit; say which op stands in the way. */
function quantisedReason(model: Model): string | null {
  const q = firstQuantisedNode(model.graph);
  return q ? `quantised (${q.op} node '${q.node}'): its weights cannot be pruned by zeroing; re-quantise the pruned fp32 files` : null;
}

/**
 * Writes a copy of the model folder `srcDir` to `outDir` with the first `k` of `neurons` zeroed
 * (or all of them when k is undefined). Every ONNX graph of the layout, in every float variant,
 * is pruned (the encoder, the decoder, the merged decoder, the decoder with past, model.onnx,
 * their `_fp16` twins); sites are found in each file by its role, as the loader does. Files that
 * cannot be pruned (quantised variants, or a file whose sites do not match the model's) are left
 * out and listed in the result, since copying them would ship unpruned weights.
 */
export async function pruneFolder(srcDir: string, neurons: readonly NeuronRef[] | string, k: number | undefined, outDir: string): Promise<PruneFolderResult> {
  const src = resolve(srcDir);
  const out = resolve(outDir);
  if (src === out) throw new Error(`prune: the output folder is the source folder ${src}`);
  const list = typeof neurons === 'string' ? readRanking(neurons) : [...neurons];
  if (k !== undefined && (!Number.isInteger(k) || k < 0)) throw new Error(`prune: k must be a non-negative integer, got ${k}`);
  if (k !== undefined && k > list.length) throw new Error(`prune: k = ${k} but the ranking lists only ${list.length} neurons`);
  const chosen = (k === undefined ? list : list.slice(0, k)).map((n) => ({ site: n.site, unit: n.unit }));
  const all = listOnnxFiles(src);
  const variants = [...new Set(all.map((f) => parseOnnxName(f)?.variant).filter((v): v is string => !!v))];
  if (!variants.length) throw new Error(`prune: ${src} has no ONNX graphs of a supported layout (found: ${all.join(', ') || 'nothing'} in onnx/)`);

  // Find the sites of every file before writing anything.
  const perFile: { file: string; model: Model; sites: NeuronSite[] }[] = [];
  const skipped: string[] = [];
  const allSites = new Map<string, NeuronSite>();
  for (const variant of variants) {
    let layout: ReturnType<typeof detectLayout>;
    try {
      layout = detectLayout(src, variant);
    } catch {
      continue; // a variant without a complete layout; its files are listed as left out below
    }
    for (const f of layout.files) {
      const model = readModel(join(src, f.file));
      const why = quantisedReason(model);
      if (why) {
        skipped.push(`${f.file} (${why})`);
        continue;
      }
      const sites = findSites(await siteView(model), { strict: false, role: f.role });
      perFile.push({ file: f.file, model, sites });
      for (const s of sites) if (!allSites.has(s.name)) allSites.set(s.name, s);
    }
  }
  const units = groupNeurons([...allSites.values()], chosen, typeof neurons === 'string' ? neurons : 'neurons');
  // A file must hold every chosen site of its stacks, or it would ship those units unpruned. A
  // decoder with past has no cross-attention k/v (they arrive as past values, computed by the
  // pruned decoder), so those are the one allowed absence.
  const toWrite = perFile.filter(({ file, sites }) => {
    const here = new Set(sites.map((s) => s.name));
    const stacks = new Set(sites.map((s) => s.stack));
    const withPast = parseOnnxName(file.slice('onnx/'.length))?.base === 'decoder_with_past_model';
    const absent = [...units.keys()].filter((name) => {
      const s = allSites.get(name)!;
      return stacks.has(s.stack) && !here.has(name) && !(withPast && (s.kind === 'cross_k' || s.kind === 'cross_v'));
    });
    if (absent.length) skipped.push(`${file} (its sites do not include ${absent.slice(0, 3).join(', ')}${absent.length > 3 ? ', ...' : ''})`);
    return !absent.length;
  });
  const written = new Set(toWrite.map((f) => f.file));
  for (const f of all)
    if (!written.has(`onnx/${f}`) && !skipped.some((x) => x.startsWith(`onnx/${f} `))) skipped.push(`onnx/${f} (not part of a complete layout)`);

  mkdirSync(join(out, 'onnx'), { recursive: true });
  const copied: string[] = [];
  for (const e of readdirSync(src)) {
    if (e === 'onnx') continue;
    const p = join(src, e);
    if (statSync(p).isFile()) {
      copyFileSync(p, join(out, e));
      copied.push(e);
    }
  }
  const pruned: string[] = [];
  for (const { file, model, sites } of toWrite) {
    const p = pruneModel(model, sites, units);
    const name = file.slice('onnx/'.length);
    const ext = externalDataName(join(src, 'onnx'), name);
    writeModel(p, join(out, file), ext ? { externalData: true, externalDataName: ext } : {});
    pruned.push(file);
  }
  writeFileSync(join(out, 'crispr_pruned.json'), `${JSON.stringify({ source: srcDir, k: chosen.length, neurons: chosen }, null, 2)}\n`);
  return { outDir: out, neurons: chosen, pruned, skipped, copied };
}
