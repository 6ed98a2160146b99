import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GgufValueType, readGguf, tensorData, metaNumber, metaArray, type GgufArray } from '../src/gguf/reader.js';
import { V, writeGgufBytes, f32Bytes, u16Bytes } from './helpers/gguf-writer.js';

const ASSETS = process.env.CRISPR_ASSETS ?? resolve(__dirname, '../../../../shared/assets');
const STORIES = join(ASSETS, 'models/stories260K/stories260K.gguf');

describe('GGUF reader on hand-built files', () => {
  const everyType = () =>
    writeGgufBytes({
      version: 3,
      alignment: 64,
      metadata: [
        ['general.alignment', V.u32(64)],
        ['t.u8', { type: GgufValueType.UINT8, value: 200 }],
        ['t.i8', { type: GgufValueType.INT8, value: -5 }],
        ['t.u16', { type: GgufValueType.UINT16, value: 65000 }],
        ['t.i16', { type: GgufValueType.INT16, value: -32000 }],
        ['t.u32', V.u32(4294967295)],
        ['t.i32', V.i32(-7)],
        ['t.f32', V.f32(0.5)],
        ['t.bool', V.bool(true)],
        ['t.str', V.str('héllo ▁')],
        ['t.u64', { type: GgufValueType.UINT64, value: 2n ** 63n + 5n }],
        ['t.i64', { type: GgufValueType.INT64, value: -(2n ** 40n) }],
        ['t.f64', { type: GgufValueType.FLOAT64, value: 1 / 3 }],
        ['t.arr', V.arr(GgufValueType.STRING, [V.str('a'), V.str(''), V.str('▁b')])],
        ['t.nested', V.arr(GgufValueType.ARRAY, [V.arr(GgufValueType.INT32, [V.i32(1), V.i32(2)]), V.arr(GgufValueType.INT32, [])])],
      ],
      tensors: [
        // GGUF dims [3, 2] = row-major shape [2, 3]
        { name: 'w32', dims: [3, 2], type: 0, bytes: f32Bytes([1, 2, 3, 4, 5, 6]) },
        // 1.0, -2.0, 0x3555 = 1/3 rounded to half, smallest subnormal 2^-24, +inf
        { name: 'w16', dims: [5], type: 1, bytes: u16Bytes([0x3c00, 0xc000, 0x3555, 0x0001, 0x7c00]) },
        { name: 'wq', dims: [32], type: 2, bytes: new Uint8Array(18) },
      ],
    });

  it('reads every metadata value type, alignment and tensor infos', () => {
    const f = readGguf(everyType(), 'every.gguf');
    expect(f.version).toBe(3);
    expect(f.alignment).toBe(64);
    expect(f.dataOffset % 64).toBe(0);
    const m = (k: string) => f.metadata.get(k)!.value;
    expect(m('t.u8')).toBe(200);
    expect(m('t.i8')).toBe(-5);
    expect(m('t.u16')).toBe(65000);
    expect(m('t.i16')).toBe(-32000);
    expect(m('t.u32')).toBe(4294967295);
    expect(m('t.i32')).toBe(-7);
    expect(m('t.f32')).toBe(0.5);
    expect(m('t.bool')).toBe(true);
    expect(m('t.str')).toBe('héllo ▁');
    expect(m('t.u64')).toBe(2n ** 63n + 5n);
    expect(m('t.i64')).toBe(-(2n ** 40n));
    expect(m('t.f64')).toBe(1 / 3);
    expect(metaArray(f, 't.arr', GgufValueType.STRING)).toEqual(['a', '', '▁b']);
    const nested = m('t.nested') as GgufArray;
    expect(nested.elementType).toBe(GgufValueType.ARRAY);
    expect((nested.values[0] as GgufArray).values).toEqual([1, 2]);
    expect((nested.values[1] as GgufArray).values).toEqual([]);
    expect(() => metaArray(f, 't.arr', GgufValueType.INT32)).toThrow(/t\.arr.*array of INT32, got STRING/);
    expect(() => metaNumber(f, 't.str')).toThrow(/'t\.str' should be a number/);
    expect(() => metaNumber(f, 'missing.key')).toThrow(/every\.gguf: metadata 'missing\.key' is missing/);

    expect(f.tensors.map((t) => [t.name, t.typeName, t.shape, t.offset])).toEqual([
      ['w32', 'F32', [2, 3], 0],
      ['w16', 'F16', [5], 64],
      ['wq', 'Q4_0', [32], 128],
    ]);
  });

  it('decodes float32 and float16 tensors', () => {
    const f = readGguf(everyType());
    expect(Array.from(tensorData(f, 'w32'))).toEqual([1, 2, 3, 4, 5, 6]);
    const h = Array.from(tensorData(f, 'w16'));
    expect(h[0]).toBe(1);
    expect(h[1]).toBe(-2);
    expect(h[2]).toBe(Math.fround(1365 / 4096)); // 0x3555: (1 + 341/1024) * 2^-2
    expect(h[3]).toBe(2 ** -24);
    expect(h[4]).toBe(Infinity);
  });

  it('rejects quantised tensors, naming the tensor and its type', () => {
    const f = readGguf(everyType(), 'q.gguf');
    expect(() => tensorData(f, 'wq')).toThrow(/q\.gguf: tensor 'wq' has type Q4_0; only F32 and F16/);
  });

  it('reads version 2 files and uses the default alignment 32', () => {
    const f = readGguf(
      writeGgufBytes({
        version: 2,
        metadata: [['a', V.str('x')]],
        tensors: [
          { name: 'a', dims: [1], type: 0, bytes: f32Bytes([7]) },
          { name: 'b', dims: [2], type: 0, bytes: f32Bytes([8, 9]) },
        ],
      }),
    );
    expect(f.version).toBe(2);
    expect(f.alignment).toBe(32);
    expect(f.tensors[1]!.offset).toBe(32);
    expect(Array.from(tensorData(f, 'b'))).toEqual([8, 9]);
  });

  it('reads from a path with a header larger than the first read, tensor data on demand', () => {
    const dir = mkdtempSync(join(tmpdir(), 'crispr-gguf-reader-'));
    try {
      const big = 'x'.repeat(3 << 19); // 1.5 MiB string: the header outgrows the 1 MiB first read
      const path = join(dir, 'big.gguf');
      writeFileSync(
        path,
        writeGgufBytes({
          metadata: [
            ['big', V.str(big)],
            ['after', V.i32(42)],
          ],
          tensors: [{ name: 't', dims: [2], type: 0, bytes: f32Bytes([1.5, -2.5]) }],
        }),
      );
      const f = readGguf(path);
      expect((f.metadata.get('big')!.value as string).length).toBe(3 << 19);
      expect(f.metadata.get('after')!.value).toBe(42);
      expect(f.size).toBe(readFileSync(path).length);
      expect(Array.from(tensorData(f, 't'))).toEqual([1.5, -2.5]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports bad magic, unsupported versions, truncation and bad offsets', () => {
    expect(() => readGguf(new TextEncoder().encode('GGML....'), 'x.bin')).toThrow(/x\.bin: not a GGUF file/);
    const v1 = writeGgufBytes({ version: 1, metadata: [], tensors: [] });
    expect(() => readGguf(v1, 'old.gguf')).toThrow(/old\.gguf: GGUF version 1 is not supported/);
    const ok = writeGgufBytes({ metadata: [['k', V.str('value')]], tensors: [{ name: 't', dims: [4], type: 0, bytes: f32Bytes([1, 2, 3, 4]) }] });
    expect(() => readGguf(ok.subarray(0, 40), 'cut.gguf')).toThrow(/cut\.gguf: truncated GGUF file while reading metadata 'k'/);
    expect(() => readGguf(ok.subarray(0, ok.length - 4), 'short.gguf')).toThrow(/short\.gguf: tensor 't' \(F32 4\) extends past the end/);
    const badAlign = writeGgufBytes({ metadata: [['general.alignment', V.u32(24)]], tensors: [] });
    expect(() => readGguf(badAlign, 'a.gguf')).toThrow(/general\.alignment must be a positive power of two, got 24/);
  });
});

describe.skipIf(!existsSync(STORIES))(`GGUF reader on stories260K (needs ${STORIES})`, () => {
  it('reads the real file: 48 float32 tensors and the Llama hyperparameters', () => {
    const bytes = readFileSync(STORIES);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe('270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d');
    const f = readGguf(STORIES);
    expect(f.version).toBe(3);
    expect(f.tensors).toHaveLength(48);
    expect(new Set(f.tensors.map((t) => t.typeName))).toEqual(new Set(['F32']));
    expect(metaNumber(f, 'llama.embedding_length')).toBe(64);
    expect(metaNumber(f, 'llama.attention.head_count')).toBe(8);
    expect(metaNumber(f, 'llama.attention.head_count_kv')).toBe(4);
    expect(metaNumber(f, 'llama.feed_forward_length')).toBe(172);
    expect(metaNumber(f, 'llama.block_count')).toBe(5);
    expect(metaArray(f, 'tokenizer.ggml.tokens')).toHaveLength(512);
    expect(f.tensors.find((t) => t.name === 'blk.0.attn_k.weight')!.shape).toEqual([32, 64]);
    const norm = tensorData(f, 'output_norm.weight');
    expect(norm).toHaveLength(64);
    expect(norm.every((x) => Number.isFinite(x))).toBe(true);
  });
});
