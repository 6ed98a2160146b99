/**
 * GraphBuilder appends nodes, constants and values to a graph with collision-free names. Used by
 * model builders, autodiff rules and graph passes so that emitted graphs read like the math.
 */
import type { Attribute, DType, Dim, Graph, Node, Tensor } from './types.js';
import { tensor } from './tensor.js';

export type AttrInput = Attribute | number | number[] | string | string[] | Tensor | Graph;

/** Attributes that ONNX types as float even when the value is integral (alpha: 1.0, ...). */
const FLOAT_ATTRS = new Set(['epsilon', 'alpha', 'beta', 'gamma', 'bias', 'lambd', 'ratio', 'value_float', 'min', 'max', 'spatial_scale']);

export const attr = {
  f: (value: number): Attribute => ({ type: 'float', value }),
  i: (value: number): Attribute => ({ type: 'int', value }),
  s: (value: string): Attribute => ({ type: 'string', value }),
  fs: (value: number[]): Attribute => ({ type: 'floats', value }),
  is: (value: number[]): Attribute => ({ type: 'ints', value }),
  t: (value: Tensor): Attribute => ({ type: 'tensor', value }),
};

function isAttribute(v: unknown): v is Attribute {
  return typeof v === 'object' && v !== null && 'type' in v && 'value' in v && !('dims' in v);
}

export function toAttribute(name: string, v: AttrInput): Attribute {
  if (isAttribute(v)) return v;
  if (typeof v === 'number') return FLOAT_ATTRS.has(name) || !Number.isInteger(v) ? attr.f(v) : attr.i(v);
  if (typeof v === 'string') return attr.s(v);
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === 'string') return { type: 'strings', value: v as string[] };
    const nums = v as number[];
    return FLOAT_ATTRS.has(name) || nums.some((x) => !Number.isInteger(x)) ? attr.fs(nums) : attr.is(nums);
  }
  if ('dims' in v) return attr.t(v);
  return { type: 'graph', value: v };
}

export interface NodeOptions {
  /** Number of outputs, or explicit output names. Default 1. */
  outputs?: number | string[];
  name?: string;
  domain?: string;
}

export class GraphBuilder {
  private used = new Set<string>();
  private counter = 0;

  constructor(
    readonly graph: Graph,
    /** Prefix of generated names, so that several builders on one graph never collide. */
    readonly prefix = '',
  ) {
    for (const v of graph.inputs) this.used.add(v.name);
    for (const v of graph.outputs) this.used.add(v.name);
    for (const k of graph.initializers.keys()) this.used.add(k);
    for (const n of graph.nodes) {
      this.used.add(n.name);
      for (const o of n.outputs) this.used.add(o);
    }
  }

  /** A name not yet used in the graph, derived from `hint`. */
  fresh(hint: string): string {
    const base = this.prefix + hint;
    if (!this.used.has(base)) {
      this.used.add(base);
      return base;
    }
    let name: string;
    do name = `${base}_${++this.counter}`;
    while (this.used.has(name));
    this.used.add(name);
    return name;
  }

  /** Marks names as taken (e.g. values added to the graph by other means). */
  reserve(...names: string[]): void {
    for (const n of names) this.used.add(n);
  }

  node(opType: string, inputs: string[], attrs: Record<string, AttrInput | undefined> = {}, opts: NodeOptions = {}): string[] {
    const nodeName = opts.name ? this.fresh(opts.name) : this.fresh(`${opType}`);
    const outs = opts.outputs ?? 1;
    const outputs = typeof outs === 'number' ? Array.from({ length: outs }, (_, i) => this.fresh(`${nodeName}_out${i}`)) : outs;
    if (typeof outs !== 'number') this.reserve(...outs);
    const attributes: Record<string, Attribute> = {};
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined) attributes[k] = toAttribute(k, v);
    const node: Node = { name: nodeName, opType, domain: opts.domain ?? '', inputs, outputs, attributes };
    this.graph.nodes.push(node);
    return outputs;
  }

  /** Single-output convenience: returns the output's name. */
  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrInput | undefined> = {},
    opts: Omit<NodeOptions, 'outputs'> & { output?: string } = {},
  ): string {
    return this.node(opType, inputs, attrs, { ...opts, ...(opts.output ? { outputs: [opts.output] } : {}) })[0]!;
  }

  /** Adds `t` as an initializer under a fresh name derived from `hint`. */
  constant(t: Tensor, hint = 'const'): string {
    const name = this.fresh(hint);
    this.graph.initializers.set(name, t);
    return name;
  }

  /** Adds an initializer under exactly `name` (throws if taken). */
  initializer(name: string, t: Tensor): string {
    if (this.used.has(name)) throw new Error(`initializer name '${name}' is already used in graph '${this.graph.name}'`);
    this.used.add(name);
    this.graph.initializers.set(name, t);
    return name;
  }

  scalar(value: number, dtype: DType = 'float32', hint = 'scalar'): string {
    return this.constant(tensor(dtype, [], [value]), hint);
  }

  /** A 1-D int64 constant, the form ONNX wants for shapes, axes and indices. */
  ints(values: number[], hint = 'ints'): string {
    return this.constant(tensor('int64', [values.length], values), hint);
  }

  input(name: string, dtype: DType, shape: Dim[] | null): string {
    if (this.used.has(name) && !this.graph.inputs.some((v) => v.name === name)) throw new Error(`input name '${name}' is already used`);
    this.used.add(name);
    this.graph.inputs.push({ name, dtype, shape });
    return name;
  }

  output(name: string, dtype: DType, shape: Dim[] | null): string {
    this.graph.outputs.push({ name, dtype, shape });
    return name;
  }
}
