/** The vocabulary of neuron sites, shared by site discovery and the architecture templates. */

export type SiteKind =
  | 'attn_q'
  | 'attn_k'
  | 'attn_v'
  | 'attn_o'
  | 'attn_qkv'
  | 'cross_q'
  | 'cross_k'
  | 'cross_v'
  | 'cross_o'
  | 'ffn_in'
  | 'ffn_gate'
  | 'ffn_up'
  | 'ffn_down';

/**
 * What an ONNX file is in its folder's layout: the encoder of a seq2seq model, its decoder
 * (plain, merged or with past), or a decoder-only model. Undefined for the loader's merged
 * seq2seq graph, whose node names the loader has already made canonical.
 */
export type FileRole = 'encoder' | 'decoder' | 'decoder-only';
