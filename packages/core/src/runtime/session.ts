/**
 * onnxruntime-node sessions: execution provider chosen by the caller, thread options, IR tensor
 * conversion, and a cache keyed by graph hash and shape bucket so each bucket compiles once.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { DType, Graph, Model, Tensor } from '../onnx/types.js';
import { encodeModel, initializerBytes, writeModel } from '../onnx/io.js';
import { toBytes } from '../onnx/tensor.js';

process.env.ORT_DISABLE_TELEMETRY ??= '1';

export type ExecutionProvider = 'cpu' | 'cuda' | 'webgpu';

export interface SessionOptions {
  /** Execution provider; 'cpu' by default. 'cuda' runs the same graph on an NVIDIA GPU. */
  provider?: ExecutionProvider;
  /** Threads inside one op (0 = ORT's default, one per core). */
  intraOpThreads?: number;
  interOpThreads?: number;
  /** ORT graph optimisation level; 'all' by default. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Let idle pool threads spin for the next op (ORT's default, true) rather than sleep. Spinning
   * keeps a long run of small ops quick, but a pool still spinning after its run takes a core from
   * the next session's run: callers that alternate sessions (scoring: encoder and decoder) pass
   * false. On 2 cores that made T5 d_model 64 scoring plus attribution at batch 8 a third faster.
   */
  allowSpinning?: boolean;
  /**
   * Models whose initializers exceed this many bytes are handed to ORT as a file with external
   * data (a protobuf cannot exceed 2 GB). Default 1.5 GB; env CRISPR_EXTERNAL_DATA_BYTES overrides.
   */
  externalDataBytes?: number;
}

function externalDataBytes(opts: SessionOptions): number {
  if (opts.externalDataBytes !== undefined) return opts.externalDataBytes;
  const env = Number(process.env.CRISPR_EXTERNAL_DATA_BYTES);
  return Number.isFinite(env) && env > 0 ? env : 1.5 * 1024 ** 3;
}

const ORT_TYPES: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int64: 'int64',
  int32: 'int32',
  int16: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  uint16: 'uint16',
  uint32: 'uint32',
  uint64: 'uint64',
  bool: 'bool',
  string: 'string',
};

export function toOrtTensor(t: Tensor): ort.Tensor {
  const type = ORT_TYPES[t.dtype];
  if (!type) throw new Error(`dtype ${t.dtype} cannot be passed to onnxruntime`);
  return new ort.Tensor(type, t.data as ort.Tensor.DataType, t.dims);
}

export function fromOrtTensor(t: ort.Tensor): Tensor {
  const dtype = (t.type === 'bool' ? 'bool' : t.type) as DType;
  return { dtype, dims: [...t.dims], data: t.data as Tensor['data'] };
}

/** A loaded ORT session that speaks IR tensors. */
export class ModelSession {
  constructor(
    readonly session: ort.InferenceSession,
    readonly provider: ExecutionProvider,
    /** Temporary folder holding the model file of a large model; removed on release. */
    private readonly tempDir?: string,
  ) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Record<string, Tensor>, outputs?: string[]): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrtTensor(v);
    const missing = this.session.inputNames.filter((n) => !(n in ortFeeds));
    if (missing.length) throw new Error(`missing session inputs: ${missing.join(', ')}`);
    const res = outputs ? await this.session.run(ortFeeds, outputs) : await this.session.run(ortFeeds);
    const out: Record<string, Tensor> = {};
    for (const [k, v] of Object.entries(res)) out[k] = fromOrtTensor(v);
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
  }
}

/**
 * A content hash of a model that never encodes it as one protobuf (which fails past 2 GB):
 * nodes, inputs, outputs and opsets as JSON, and every initializer's name, dims and bytes.
 */
export function modelHash(model: Model): string {
  const h = createHash('sha256');
  const graph = (g: Graph): void => {
    h.update(JSON.stringify([g.name, g.inputs, g.outputs, model.opsetImports]));
    for (const n of g.nodes) {
      h.update(JSON.stringify([n.name, n.opType, n.domain, n.inputs, n.outputs]));
      for (const [k, a] of Object.entries(n.attributes)) {
        if (a.type === 'graph') graph(a.value);
        else if (a.type === 'graphs') a.value.forEach(graph);
        else if (a.type === 'tensor') h.update(k).update(Array.isArray(a.value.data) ? JSON.stringify(a.value.data) : toBytes(a.value.data));
        else h.update(JSON.stringify([k, a]));
      }
    }
    for (const [name, t] of g.initializers) {
      h.update(JSON.stringify([name, t.dtype, t.dims]));
      h.update(Array.isArray(t.data) ? JSON.stringify(t.data) : toBytes(t.data));
    }
  };
  graph(model.graph);
  return h.digest('hex').slice(0, 16);
}

function providerList(provider: ExecutionProvider): ort.InferenceSession.ExecutionProviderConfig[] {
  switch (provider) {
    case 'cpu':
      return ['cpu'];
    case 'cuda':
      return ['cuda', 'cpu'];
    case 'webgpu':
      return ['webgpu', 'cpu'];
  }
}

const PROVIDER_HELP: Record<ExecutionProvider, string> = {
  cpu: '',
  cuda:
    "The CUDA provider needs onnxruntime-node's CUDA libraries: set `onnxruntime-node: true` under allowBuilds in " +
    'pnpm-workspace.yaml, run `pnpm install` on a machine that can download them, and have CUDA 12 and cuDNN 9 installed.',
  webgpu: 'The WebGPU provider needs an onnxruntime-node build with WebGPU support and a GPU with a WebGPU driver.',
};

export async function createSession(model: Model | Uint8Array, opts: SessionOptions = {}): Promise<ModelSession> {
  const provider = opts.provider ?? 'cpu';
  // Large models go to ORT as a file with external data, since one protobuf cannot hold them.
  let tempDir: string | undefined;
  let source: Uint8Array | string;
  if (!(model instanceof Uint8Array) && initializerBytes(model.graph) > externalDataBytes(opts)) {
    tempDir = mkdtempSync(join(tmpdir(), 'crispr-session-'));
    source = join(tempDir, 'model.onnx');
    writeModel(model, source, { externalData: true });
  } else source = model instanceof Uint8Array ? model : encodeModel(model);
  const sessOpts: ort.InferenceSession.SessionOptions = {
    executionProviders: providerList(provider),
    graphOptimizationLevel: opts.optimization ?? 'all',
    logSeverityLevel: 3,
  };
  if (opts.intraOpThreads !== undefined) sessOpts.intraOpNumThreads = opts.intraOpThreads;
  if (opts.allowSpinning === false) sessOpts.extra = { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } };
  if (opts.interOpThreads !== undefined) sessOpts.interOpNumThreads = opts.interOpThreads;
  // CRISPR_ORT_PROFILE=<prefix>: onnxruntime writes a per-node timing profile (JSON, chrome://tracing) per session.
  if (process.env.CRISPR_ORT_PROFILE) Object.assign(sessOpts, { enableProfiling: true, profileFilePrefix: process.env.CRISPR_ORT_PROFILE });
  let session: ort.InferenceSession;
  try {
    session = typeof source === 'string' ? await ort.InferenceSession.create(source, sessOpts) : await ort.InferenceSession.create(source, sessOpts);
  } catch (e) {
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    const msg = (e as Error).message;
    if (provider !== 'cpu' && /provider|cuda|webgpu|\.so|library/i.test(msg)) {
      throw new Error(`execution provider '${provider}' is not available: ${msg}\n${PROVIDER_HELP[provider]}`);
    }
    throw new Error(`onnxruntime could not load the model: ${msg}`);
  }
  return new ModelSession(session, provider, tempDir);
}

/** One-shot convenience: build a session, run it, release it. */
export async function runModel(
  model: Model | Uint8Array,
  feeds: Record<string, Tensor>,
  opts: SessionOptions & { outputs?: string[] } = {},
): Promise<Record<string, Tensor>> {
  const s = await createSession(model, opts);
  try {
    return await s.run(feeds, opts.outputs);
  } finally {
    await s.release();
  }
}

/**
 * Sessions keyed by (graph hash, shape bucket, provider). A bucket is a caller-chosen string such
 * as "b8_l128_t4"; the least recently used session is released past `capacity`.
 */
export class SessionCache {
  private entries = new Map<string, Promise<ModelSession>>();

  constructor(
    readonly opts: SessionOptions = {},
    readonly capacity = 8,
  ) {}

  static key(graphHash: string, bucket: string, provider: ExecutionProvider): string {
    return `${graphHash}|${bucket}|${provider}`;
  }

  async get(graphHash: string, bucket: string, build: () => Model | Uint8Array | Promise<Model | Uint8Array>): Promise<ModelSession> {
    const key = SessionCache.key(graphHash, bucket, this.opts.provider ?? 'cpu');
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const p = (async () => createSession(await build(), this.opts))();
    this.entries.set(key, p);
    p.catch(() => this.entries.delete(key));
    while (this.entries.size > this.capacity) {
      const [oldKey, old] = this.entries.entries().next().value as [string, Promise<ModelSession>];
      this.entries.delete(oldKey);
      old.then((s) => s.release()).catch(() => {});
    }
    return p;
  }

  get size(): number {
    return this.entries.size;
  }

  async clear(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((p) => p.then((s) => s.release()).catch(() => {})));
  }
}

/** The onnxruntime version in use, for run manifests. */
export function runtimeVersion(): string {
  return ort.env.versions?.common ?? 'unknown';
}
