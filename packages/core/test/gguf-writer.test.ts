/**
 * GGUF writer: round trips through readGguf (every value type, F32/F16 tensors, alignment), a
 * byte-identical re-encoding of the real stories260K file, float16 rounding, and checks.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GgufValueType, readGguf, tensorData, type GgufMetadataEntry } from '../src/gguf/reader.js';
import { ggufValue, writeGguf, type GgufRawTensor } from '../src/gguf/writer.js';
import { floatToHalfBits } from '../src/onnx/tensor.js';
import { halfToFloat } from '../src/onnx/tensor.js';

const ASSETS = process.env.CRISPR_ASSETS ?? resolve(__dirname, '../../../../shared/assets');
const STORIES = join(ASSETS, 'models/stories260K/stories260K.gguf');

describe('writeGguf round trip through readGguf', () => {
  const metadata: [string, GgufMetadataEntry][] = [
    ['general.architecture', ggufValue.str('llama')],
    ['t.u8', ggufValue.u8(255)],
    ['t.i8', ggufValue.i8(-128)],
    ['t.u16', ggufValue.u16(65535)],
    ['t.i16', ggufValue.i16(-32768)],
    ['t.u32', ggufValue.u32(4294967295)],
    ['t.i32', ggufValue.i32(-2147483648)],
    ['t.f32', ggufValue.f32(0.25)],
    ['t.f64', ggufValue.f64(1 / 3)],
    ['t.u64', ggufValue.u64(2n ** 64n - 1n)],
    ['t.i64', ggufValue.i64(-(2n ** 63n))],
    ['t.bool', ggufValue.bool(false)],
    ['t.str', ggufValue.str('héllo ▁ 世界')],
    ['t.strings', ggufValue.strings(['<unk>', '▁the', ''])],
    ['t.f32s', ggufValue.f32s([0, -1.5, 3])],
    ['t.nested', ggufValue.array(GgufValueType.ARRAY, [ggufValue.i32s([1, 2]), ggufValue.i32s([])])],
  ];
  const w = Float32Array.from({ length: 6 }, (_, i) => i * 0.5 - 1);

  it('writes every value type and F32/F16 tensors that read back equal (alignment 64 adds general.alignment)', () => {
    const bytes = writeGguf(
      null,
      {
        metadata,
        tensors: [
          { name: 'w', shape: [2, 3], data: w },
          { name: 'h', shape: [5], data: [1, -2, 1 / 3, 2 ** -24, 70000], type: 'F16' },
          { name: 'odd', shape: [1], data: [7] },
        ],
      },
      { alignment: 64 },
    );
    const f = readGguf(bytes, 'rt.gguf');
    expect(f.version).toBe(3);
    expect(f.alignment).toBe(64);
    expect(f.metadata.get('general.alignment')).toEqual({ type: GgufValueType.UINT32, value: 64 });
    for (const [k, e] of metadata) expect(f.metadata.get(k), k).toEqual(e);
    expect([...f.metadata.keys()]).toEqual([...metadata.map(([k]) => k), 'general.alignment']);
    expect(f.tensors.map((t) => [t.name, t.dims, t.shape, t.typeName])).toEqual([
      ['w', [3, 2], [2, 3], 'F32'],
      ['h', [5], [5], 'F16'],
      ['odd', [1], [1], 'F32'],
    ]);
    expect(f.tensors.map((t) => t.offset)).toEqual([0, 64, 128]);
    expect(f.dataOffset % 64).toBe(0);
    expect(Array.from(tensorData(f, 'w'))).toEqual(Array.from(w));
    // 1/3 rounds to half 0x3555; 2^-24 is the smallest subnormal; 70000 overflows to +inf.
    expect(Array.from(tensorData(f, 'h'))).toEqual([1, -2, halfToFloat(0x3555), 2 ** -24, Infinity]);
    expect(Array.from(tensorData(f, 'odd'))).toEqual([7]);
    expect(f.size).toBe(bytes.length);
  });

  it('writes to a path and returns the same bytes; version 2 reads back as version 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'crispr-gguf-writer-'));
    try {
      const path = join(dir, 'm.gguf');
      const bytes = writeGguf(path, { metadata: [['a', ggufValue.str('x')]], tensors: [{ name: 'w', shape: [3], data: [1, 2, 3] }] }, { version: 2 });
      expect(new Uint8Array(readFileSync(path))).toEqual(bytes);
      const f = readGguf(path);
      expect(f.version).toBe(2);
      expect(f.alignment).toBe(32);
      expect(Array.from(tensorData(f, 'w'))).toEqual([1, 2, 3]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a read file written back is equal (metadata map and raw tensors)', () => {
    const first = writeGguf(null, {
      metadata,
      tensors: [
        { name: 'w', shape: [2, 3], data: w },
        { name: 'q', dims: [32], type: 2, bytes: new Uint8Array(18).fill(3) },
      ],
    });
    const f = readGguf(first);
    const raw: GgufRawTensor[] = f.tensors.map((t) => ({
      name: t.name,
      dims: t.dims,
      type: t.type,
      bytes: f.read(f.dataOffset + t.offset, t.type === 0 ? t.elements * 4 : 18),
    }));
    expect(writeGguf(null, { metadata: f.metadata, tensors: raw })).toEqual(first);
  });
});

describe.skipIf(!existsSync(STORIES))(`writeGguf re-encodes a real file byte for byte (needs ${STORIES})`, () => {
  it('stories260K: read, then write back -> identical bytes', () => {
    const original = new Uint8Array(readFileSync(STORIES));
    const f = readGguf(original);
    const raw: GgufRawTensor[] = f.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, bytes: f.read(f.dataOffset + t.offset, t.elements * 4) }));
    const again = writeGguf(null, { metadata: f.metadata, tensors: raw }, { version: f.version });
    expect(again.length).toBe(original.length);
    expect(Buffer.from(again).equals(Buffer.from(original))).toBe(true);
  });
});

describe('floatToHalfBits', () => {
  it('inverts halfToFloat on every finite half and infinity', () => {
    let bad = 0;
    for (let h = 0; h < 0x10000; h++) {
      const x = halfToFloat(h);
      if (Number.isNaN(x)) continue;
      if (floatToHalfBits(x) !== h) bad++;
    }
    expect(bad).toBe(0);
  });

  it('rounds to nearest even between halves, in the normal and subnormal ranges', () => {
    // 1 + 2^-11 lies halfway between 1 (0x3c00, even) and 1 + 2^-10 (0x3c01): to even.
    expect(floatToHalfBits(1 + 2 ** -11)).toBe(0x3c00);
    expect(floatToHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalfBits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    // 65520 is halfway between 65504 (max half) and 65536: rounds up to infinity.
    expect(floatToHalfBits(65519)).toBe(0x7bff);
    expect(floatToHalfBits(65520)).toBe(0x7c00);
    // Subnormals: 1.5 * 2^-24 ties to 2 * 2^-24; 2^-25 ties to 0; just above rounds to 1 unit.
    expect(floatToHalfBits(1.5 * 2 ** -24)).toBe(0x0002);
    expect(floatToHalfBits(2 ** -25)).toBe(0x0000);
    expect(floatToHalfBits(2 ** -25 * 1.0001)).toBe(0x0001);
    expect(floatToHalfBits(-(2 ** -30))).toBe(0x8000);
    // The largest subnormal rounding up carries into the smallest normal.
    expect(floatToHalfBits(2 ** -14 - 2 ** -26)).toBe(0x0400);
    expect(floatToHalfBits(-Infinity)).toBe(0xfc00);
    expect(Number.isNaN(halfToFloat(floatToHalfBits(NaN)))).toBe(true);
  });
});

describe('writeGguf checks its input', () => {
  const t = { name: 'w', shape: [2], data: [1, 2] };
  it('names the bad key, tensor or option', () => {
    expect(() => writeGguf(null, { metadata: [['k', ggufValue.u8(256)]], tensors: [] })).toThrow(/metadata 'k': 256 is outside the UINT8 range/);
    expect(() => writeGguf(null, { metadata: [['k', ggufValue.i32(1.5)]], tensors: [] })).toThrow(/metadata 'k': INT32 needs an integer/);
    expect(() => writeGguf(null, { metadata: [['k', { type: GgufValueType.STRING, value: 3 }]], tensors: [] })).toThrow(/metadata 'k': STRING needs a string/);
    expect(() => writeGguf(null, { metadata: [['k', ggufValue.u64(-1)]], tensors: [] })).toThrow(/metadata 'k': -1 is outside the UINT64 range/);
    expect(() =>
      writeGguf(null, { metadata: [['a', { type: GgufValueType.ARRAY, value: { elementType: GgufValueType.INT32, values: [1, 'x'] } }]], tensors: [] }),
    ).toThrow(/metadata 'a\[1\]': INT32 needs an integer/);
    expect(() => ggufValue.array(GgufValueType.INT32, [ggufValue.str('x')])).toThrow(/element 0 has type STRING, expected INT32/);
    expect(() =>
      writeGguf(null, {
        metadata: [
          ['k', ggufValue.str('a')],
          ['k', ggufValue.str('b')],
        ],
        tensors: [],
      }),
    ).toThrow(/duplicate metadata key 'k'/);
    expect(() => writeGguf(null, { metadata: [], tensors: [t, t] })).toThrow(/duplicate tensor name 'w'/);
    expect(() => writeGguf(null, { metadata: [], tensors: [{ name: 'w', shape: [2, 2], data: [1, 2, 3] }] })).toThrow(
      /tensor 'w': shape \[2, 2\] needs 4 values, got 3/,
    );
    expect(() => writeGguf(null, { metadata: [], tensors: [{ name: 'w', shape: [0], data: [] }] })).toThrow(/tensor 'w': bad shape/);
    expect(() => writeGguf(null, { metadata: [], tensors: [] }, { version: 1 })).toThrow(/version must be 2 or 3, got 1/);
    expect(() => writeGguf(null, { metadata: [], tensors: [] }, { alignment: 24 })).toThrow(/alignment must be a positive power of two, got 24/);
    expect(() => writeGguf(null, { metadata: [['general.alignment', ggufValue.u32(16)]], tensors: [] }, { alignment: 64 })).toThrow(
      /general\.alignment is 16 but the alignment option is 64/,
    );
  });

  it('takes the alignment from general.alignment when no option is given', () => {
    const f = readGguf(writeGguf(null, { metadata: [['general.alignment', ggufValue.u32(8)]], tensors: [{ name: 'a', shape: [1], data: [1] }, t] }));
    expect(f.alignment).toBe(8);
    expect(f.tensors[1]!.offset).toBe(8);
  });
});
