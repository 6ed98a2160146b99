/**
 * Test-side shorthands over the product GGUF writer (src/gguf/writer.ts): raw-byte tensors of any
 * ggml type and unchecked writing, so the reader's edge cases (version 1, bad alignment,
 * quantised types) can be laid out by hand.
 */
import type { GgufMetadataEntry } from '../../src/gguf/reader.js';
import type { GgufValueType } from '../../src/gguf/reader.js';
import { ggufValue, writeGguf, type GgufRawTensor } from '../../src/gguf/writer.js';

/** A metadata entry (the reader's `{ type, value }` form). */
export type WValue = GgufMetadataEntry;

export type WTensor = GgufRawTensor;

/** Unchecked bytes: whatever version, alignment and metadata the test asks for. */
export function writeGgufBytes(opts: { version?: number; alignment?: number; metadata: [string, WValue][]; tensors: WTensor[] }): Uint8Array {
  return writeGguf(null, { metadata: opts.metadata, tensors: opts.tensors }, { version: opts.version ?? 3, alignment: opts.alignment ?? 32, check: false });
}

export const V = {
  u32: ggufValue.u32,
  i32: ggufValue.i32,
  f32: ggufValue.f32,
  str: ggufValue.str,
  bool: ggufValue.bool,
  arr: (elementType: GgufValueType, values: WValue[]): WValue => ggufValue.array(elementType, values),
};

export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

export function u16Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Uint16Array.from(values).buffer);
}
