/**
 * The linear layers a Hugging Face architecture has, in forward order, from its config.json.
 * Used to recover site names from the graph's structure when an exporter or optimiser left no
 * usable node or weight names (`onnx::MatMul_396` behind an unnamed node): the file's unnamed
 * linear layers are matched to the expected ones in order, and the match is accepted only when
 * the count, every width and the shared inputs (q, k, v read one tensor; gate and up read one
 * tensor) agree.
 */
import type { FileRole, SiteKind } from '../types/site-kinds.js';

export interface ExpectedLinear {
  name: string;
  kind: SiteKind;
  layer: number;
  stack: 'encoder' | 'decoder';
  width: number;
  /** Linears with the same key read the same input tensor. */
  sharedInput?: string;
}

export interface ModuleTemplate {
  family: string;
  linears: ExpectedLinear[];
}

const num = (c: Record<string, unknown>, ...keys: string[]): number | undefined => {
  for (const k of keys) if (typeof c[k] === 'number') return c[k] as number;
  return undefined;
};

function t5(c: Record<string, unknown>, role: FileRole): ExpectedLinear[] | null {
  const D = num(c, 'd_model');
  const inner = (num(c, 'num_heads') ?? 0) * (num(c, 'd_kv') ?? 0);
  const F = num(c, 'd_ff');
  if (!D || !inner || !F || role === 'decoder-only') return null;
  const stack = role === 'encoder' ? 'encoder' : 'decoder';
  const L = stack === 'encoder' ? num(c, 'num_layers') : (num(c, 'num_decoder_layers') ?? num(c, 'num_layers'));
  if (!L) return null;
  const gated = c.is_gated_act === true || (typeof c.feed_forward_proj === 'string' && c.feed_forward_proj.startsWith('gated'));
  const out: ExpectedLinear[] = [];
  for (let l = 0; l < L; l++) {
    const p = `${stack}.block.${l}.layer`;
    const attn = (at: string, module: string, cross: boolean) => {
      const k = (x: 'q' | 'k' | 'v' | 'o') => (cross ? `cross_${x}` : `attn_${x}`) as SiteKind;
      const base = { layer: l, stack } as const;
      out.push({ ...base, name: `${p}.${at}.${module}.q`, kind: k('q'), width: inner, ...(cross ? {} : { sharedInput: `${p}.${at}` }) });
      out.push({ ...base, name: `${p}.${at}.${module}.k`, kind: k('k'), width: inner, sharedInput: `${p}.${at}` });
      out.push({ ...base, name: `${p}.${at}.${module}.v`, kind: k('v'), width: inner, sharedInput: `${p}.${at}` });
      out.push({ ...base, name: `${p}.${at}.${module}.o`, kind: k('o'), width: D });
    };
    attn('0', 'SelfAttention', false);
    if (stack === 'decoder') attn('1', 'EncDecAttention', true);
    const f = `${p}.${stack === 'decoder' ? 2 : 1}.DenseReluDense`;
    if (gated) {
      out.push({ name: `${f}.wi_0`, kind: 'ffn_gate', layer: l, stack, width: F, sharedInput: f });
      out.push({ name: `${f}.wi_1`, kind: 'ffn_up', layer: l, stack, width: F, sharedInput: f });
    } else out.push({ name: `${f}.wi`, kind: 'ffn_in', layer: l, stack, width: F });
    out.push({ name: `${f}.wo`, kind: 'ffn_down', layer: l, stack, width: D });
  }
  return out;
}

function llama(c: Record<string, unknown>, role: FileRole): ExpectedLinear[] | null {
  const D = num(c, 'hidden_size');
  const H = num(c, 'num_attention_heads');
  const L = num(c, 'num_hidden_layers');
  const I = num(c, 'intermediate_size');
  if (!D || !H || !L || !I || role !== 'decoder-only') return null;
  const hd = num(c, 'head_dim') ?? D / H;
  const KV = num(c, 'num_key_value_heads') ?? H;
  const out: ExpectedLinear[] = [];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    const base = { layer: l, stack: 'decoder' as const };
    out.push({ ...base, name: `${p}.self_attn.q_proj`, kind: 'attn_q', width: H * hd, sharedInput: `${p}.self_attn` });
    out.push({ ...base, name: `${p}.self_attn.k_proj`, kind: 'attn_k', width: KV * hd, sharedInput: `${p}.self_attn` });
    out.push({ ...base, name: `${p}.self_attn.v_proj`, kind: 'attn_v', width: KV * hd, sharedInput: `${p}.self_attn` });
    out.push({ ...base, name: `${p}.self_attn.o_proj`, kind: 'attn_o', width: D });
    out.push({ ...base, name: `${p}.mlp.gate_proj`, kind: 'ffn_gate', width: I, sharedInput: `${p}.mlp` });
    out.push({ ...base, name: `${p}.mlp.up_proj`, kind: 'ffn_up', width: I, sharedInput: `${p}.mlp` });
    out.push({ ...base, name: `${p}.mlp.down_proj`, kind: 'ffn_down', width: D });
  }
  return out;
}

function gpt2(c: Record<string, unknown>, role: FileRole): ExpectedLinear[] | null {
  const D = num(c, 'n_embd', 'hidden_size');
  const L = num(c, 'n_layer', 'num_hidden_layers');
  if (!D || !L || role !== 'decoder-only') return null;
  const inner = num(c, 'n_inner') ?? 4 * D;
  const out: ExpectedLinear[] = [];
  for (let l = 0; l < L; l++) {
    const p = `transformer.h.${l}`;
    const base = { layer: l, stack: 'decoder' as const };
    out.push({ ...base, name: `${p}.attn.c_attn`, kind: 'attn_qkv', width: 3 * D });
    out.push({ ...base, name: `${p}.attn.c_proj`, kind: 'attn_o', width: D });
    out.push({ ...base, name: `${p}.mlp.c_fc`, kind: 'ffn_in', width: inner });
    out.push({ ...base, name: `${p}.mlp.c_proj`, kind: 'ffn_down', width: D });
  }
  return out;
}

const FAMILIES: Record<string, (c: Record<string, unknown>, role: FileRole) => ExpectedLinear[] | null> = {
  t5,
  mt5: t5,
  umt5: t5,
  llama,
  mistral: llama,
  qwen2: llama,
  gpt2,
};

/** The expected linear layers of a file of this role, or null for an architecture we have no template for. */
export function moduleTemplate(config: Record<string, unknown>, role: FileRole): ModuleTemplate | null {
  const family = typeof config.model_type === 'string' ? config.model_type : '';
  const make = FAMILIES[family];
  const linears = make ? make(config, role) : null;
  return linears ? { family, linears } : null;
}

export const TEMPLATE_FAMILIES = Object.keys(FAMILIES);
