/**
 * Attribution graphs mean what they claim: with sum reduction, h * dObjective/dh summed over a
 * site's tokens equals dObjective/dmask at mask = 1 (measured by finite differences on the mask
 * input, no autodiff involved); results do not depend on batch size or padding; the prob
 * objective is exp(logprob) times the logprob attribution.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  loadModelFolder,
  createRng,
  Attributor,
  attributionExample,
  attributionModel,
  bucketLength,
  TARGET_MULTIPLE,
  type ModelFolder,
  type AttributionExample,
  type AttributionResult,
} from '../../src/index.js';
import { HAVE_STORIES, HAVE_T5_TOKENIZER, NO_STORIES, NO_T5_TOKENIZER, storiesFolder, t5Folder, tempDir } from '../models/helpers.js';

const tmp = tempDir('attr');
afterAll(() => tmp.cleanup());

const asModel = attributionModel;
const example = attributionExample;

/** Central differences of the objective w.r.t. one mask unit, through the attribution session. */
async function maskDerivative(f: ModelFolder, ex: AttributionExample, site: string, unit: number, eps: number): Promise<number> {
  const width = f.sites.find((s) => s.name === site)!.width;
  const at = async (v: number) => {
    const m = new Float32Array(width).fill(1);
    m[unit] = v;
    const a = new Attributor(asModel(f), { reduce: 'sum', masks: { [site]: m }, maxBatch: 1 });
    try {
      return (await a.run([ex])).objective[0]!;
    } finally {
      await a.close();
    }
  };
  return ((await at(1 + eps)) - (await at(1 - eps))) / (2 * eps);
}

/**
 * Finite differences of a float32 objective at eps 1e-2 resolve about 1e-4 (its rounding over 2 * eps),
 * so the check is |analytic - numeric| <= FD_ATOL + FD_RTOL * |numeric| on units whose derivative
 * is far above FD_ATOL: per site kind, the unit with the largest attribution. A unit whose reference
 * is below the absolute tolerance would accept almost any analytic value.
 */
const FD_ATOL = 5e-4;
const FD_RTOL = 1e-2;

function pickUnits(f: ModelFolder, res: AttributionResult, kinds: string[]): { site: string; unit: number; analytic: number }[] {
  const out: { site: string; unit: number; analytic: number }[] = [];
  for (const k of kinds) {
    const s = f.sites.find((x) => x.kind === k);
    if (!s) continue;
    const values = res.sites.find((x) => x.name === s.name)!.values[0]!;
    let unit = 0;
    for (let u = 1; u < values.length; u++) if (Math.abs(values[u]!) > Math.abs(values[unit]!)) unit = u;
    out.push({ site: s.name, unit, analytic: values[unit]! });
  }
  return out;
}

async function expectMatchesFiniteDifferences(f: ModelFolder, ex: AttributionExample, res: AttributionResult, kinds: string[]): Promise<void> {
  const units = pickUnits(f, res, kinds);
  expect(units.length).toBe(kinds.length);
  for (const { site, unit, analytic } of units) {
    const numeric = await maskDerivative(f, ex, site, unit, 1e-2);
    const what = `${site}[${unit}] analytic ${analytic} numeric ${numeric}`;
    expect(Math.abs(numeric), `${what}: the reference must be far above the absolute tolerance`).toBeGreaterThan(50 * FD_ATOL);
    expect(Math.abs(analytic - numeric), what).toBeLessThanOrEqual(FD_ATOL + FD_RTOL * Math.abs(numeric));
  }
}

describe.skipIf(!HAVE_T5_TOKENIZER)(`attribution on a T5-style model (${NO_T5_TOKENIZER})`, () => {
  let f: ModelFolder;
  beforeAll(async () => {
    f = await loadModelFolder(t5Folder(tmp.dir));
  });

  it('sum-reduced attribution equals dObjective/dmask by finite differences', async () => {
    const ex = example(f, 'The nurse said that', ' she was tired');
    const a = new Attributor(asModel(f), { reduce: 'sum', maxBatch: 1 });
    const res = await a.run([ex]);
    await a.close();
    expect(res.objective[0]).toBeLessThan(0);
    await expectMatchesFiniteDifferences(f, ex, res, ['attn_q', 'attn_v', 'cross_k', 'cross_o', 'ffn_gate', 'ffn_up', 'ffn_down']);
  });

  it('reports every site with the right width and side, and the prob objective scales by P', async () => {
    const exs = [example(f, 'Who was tired?', ' the nurse'), example(f, 'A longer prompt that has quite a few more tokens in it.', ' a doctor')];
    const lp = new Attributor(asModel(f), { objective: 'logprob', reduce: 'mean' });
    const pr = new Attributor(asModel(f), { objective: 'prob', reduce: 'mean' });
    const r1 = await lp.run(exs);
    const r2 = await pr.run(exs);
    await lp.close();
    await pr.close();
    expect(r1.sites.map((s) => [s.name, s.width, s.side])).toEqual(f.sites.map((s) => [s.name, s.width, s.side]));
    for (let e = 0; e < 2; e++) {
      expect(r2.objective[e]).toBeCloseTo(Math.exp(r1.logprob[e]!), 6);
      const p = Math.exp(r1.logprob[e]!);
      for (const s of r1.sites) {
        const other = r2.sites.find((x) => x.name === s.name)!;
        for (let u = 0; u < s.width; u += 5) expect(other.values[e]![u]!).toBeCloseTo(p * s.values[e]![u]!, 5);
      }
    }
  });

  it('gives the same numbers at batch 1 and batch 8, with padding, run after run', async () => {
    const texts = ['Who?', 'The engineer fixed the machine because', 'A', 'Tell me', 'The pilot was tired, so', 'x y z', 'Some words here and there', 'End'];
    const exs = texts.map((t, i) => example(f, t, i % 2 ? ' he' : ' she went home'));
    const b8 = new Attributor(asModel(f), { maxBatch: 8 });
    const b1 = new Attributor(asModel(f), { maxBatch: 1 });
    const r8 = await b8.run(exs);
    const r8again = await b8.run(exs);
    const r1 = await b1.run(exs);
    await b8.close();
    await b1.close();
    expect(r8.plan.batchSize).toBe(8);
    expect(r1.plan.batchSize).toBe(1);
    expect(r8again.objective).toEqual(r8.objective);
    for (let e = 0; e < exs.length; e++) {
      expect(r1.objective[e]).toBeCloseTo(r8.objective[e]!, 4);
      for (const s of r8.sites) {
        const v8 = s.values[e]!;
        const v1 = r1.sites.find((x) => x.name === s.name)!.values[e]!;
        const again = r8again.sites.find((x) => x.name === s.name)!.values[e]!;
        expect(again).toEqual(v8);
        let maxDiff = 0;
        let scale = 0;
        for (let u = 0; u < v8.length; u++) {
          maxDiff = Math.max(maxDiff, Math.abs(v8[u]! - v1[u]!));
          scale = Math.max(scale, Math.abs(v8[u]!));
        }
        expect(maxDiff, s.name).toBeLessThan(1e-4 * Math.max(1, scale));
      }
    }
  });
  it('rows sharing a prompt (encoder forward once per prompt) equal the plain graph, with masks and batch fillers', async () => {
    const prompts = ['The nurse said that', 'Who was tired after the long shift?', 'The pilot was tired, so'];
    const targets = [' she was tired', ' he', ' the doctor', ' nobody'];
    // 7 rows: prompts repeated and interleaved across targets, so batches of 4 hold 1-3 prompts
    // and the last batch has a filler row.
    const exs = [0, 0, 1, 2, 2, 2, 1].map((p, i) => example(f, prompts[p]!, targets[i % targets.length]!));
    const rng = createRng(7);
    const masks: Record<string, Float32Array> = {};
    for (const s of f.sites.filter((x) => x.side === 'input'))
      masks[s.name] = Float32Array.from({ length: s.width }, () => (rng.int(4) === 0 ? 0 : 1 + rng.int(3) / 4));
    for (const withMasks of [false, true]) {
      const opts = { maxBatch: 4, lengthMultiple: 32, ...(withMasks ? { masks } : {}) };
      const shared = new Attributor(asModel(f), opts);
      const plain = new Attributor(asModel(f), { ...opts, sharePrompts: false });
      const rs = await shared.run(exs);
      const rp = await plain.run(exs);
      await shared.close();
      await plain.close();
      expect(rs.plan.sharedPrompts).toBe(true);
      expect(rp.plan.sharedPrompts).toBe(false);
      for (let e = 0; e < exs.length; e++) {
        expect(Math.abs(rs.objective[e]! - rp.objective[e]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(rp.objective[e]!)));
        for (const s of rp.sites) {
          const a = rs.sites.find((x) => x.name === s.name)!.values[e]!;
          const b = s.values[e]!;
          let diff = 0;
          let scale = 0;
          for (let u = 0; u < b.length; u++) {
            diff = Math.max(diff, Math.abs(a[u]! - b[u]!));
            scale = Math.max(scale, Math.abs(b[u]!));
          }
          expect(diff, `${s.name} row ${e} masks ${withMasks}`).toBeLessThanOrEqual(1e-5 * Math.max(1, scale));
        }
      }
    }
  });
});

describe.skipIf(!HAVE_STORIES)(`attribution on stories260K (${NO_STORIES})`, () => {
  let f: ModelFolder;
  beforeAll(async () => {
    f = await loadModelFolder(storiesFolder(tmp.dir));
  });

  it('sum-reduced attribution equals dObjective/dmask by finite differences', async () => {
    // With the prompt = BOS alone, every position is on the target's token axis, so the sum
    // covers all positions through which a mask acts.
    const ex = example(f, [f.bosTokenId ?? 1], ' The pilot was tired, so he');
    const a = new Attributor(asModel(f), { reduce: 'sum', maxBatch: 1 });
    const res = await a.run([ex]);
    await a.close();
    await expectMatchesFiniteDifferences(f, ex, res, ['attn_q', 'attn_k', 'attn_v', 'attn_o', 'ffn_gate', 'ffn_up', 'ffn_down']);
  });

  it('prompts sharing all or part of their tokens in a batch (their cached prompt pass shared) equal each alone', async () => {
    const exs = [
      example(f, 'The pilot was tired, so', ' he'),
      example(f, 'Once upon a time, there was a little girl named Lily. She', ' liked'),
      example(f, 'The pilot was tired, so', ' she went home'),
      example(f, 'Once upon a time', ' there'),
      example(f, 'Once upon a time, there was a little girl named Lily. One day', ' she'),
      example(f, 'Once upon a time, there was a little girl', ' named'),
      // A family that shares most of its tokens (so its prefix runs once) and, in the same length
      // bucket, a longer prompt of its own: the family's caches then have a gap between their
      // shared prefix and their own tokens.
      example(f, 'Once upon a time, there was a little girl named Lily. She liked to', ' play'),
      example(f, 'Once upon a time, there was a little girl named Lily. One day she', ' went'),
      example(f, 'Once upon a time, there was a little girl named Lily. Her mom', ' said'),
      example(f, 'Once upon a time, there was a little girl named Lily. She was', ' happy'),
      example(f, 'Tom and his big dog went to the park to play with a red ball', ' and'),
    ];
    const together = new Attributor(asModel(f), { maxBatch: 8 });
    const alone = new Attributor(asModel(f), { maxBatch: 1 });
    const r4 = await together.run(exs);
    const r1 = await alone.run(exs);
    await together.close();
    await alone.close();
    expect(r4.plan.batchSize).toBe(8);
    for (let e = 0; e < exs.length; e++) {
      expect(r4.logprob[e]).toBeCloseTo(r1.logprob[e]!, 5);
      for (const s of r4.sites) {
        const other = r1.sites.find((x) => x.name === s.name)!.values[e]!;
        s.values[e]!.forEach((v, u) => expect(Math.abs(v - other[u]!), `${s.name}[${u}]`).toBeLessThan(1e-5 * Math.max(1, Math.abs(other[u]!))));
      }
    }
  });

  it('objective equals the scorer log-probability', async () => {
    const ex = example(f, 'The pilot was tired, so', ' he');
    const a = new Attributor(asModel(f));
    const res = await a.run([ex]);
    await a.close();
    const { scoreOptions } = await import('../../src/index.js');
    const s = await scoreOptions(f, [{ prompt: 'The pilot was tired, so', candidates: [' he'] }]);
    expect(res.logprob[0]).toBeCloseTo(s[0]![0]!.logprob, 4);
  });
});

describe.skipIf(!HAVE_STORIES)(`attribution batch planning (${NO_STORIES})`, () => {
  it('chooses the batch size from the measured footprint and the memory limit', async () => {
    const own = tempDir('attr-plan');
    onTestFinished(() => own.cleanup());
    const f = await loadModelFolder(storiesFolder(own.dir));
    const exs = ['The pilot was tired, so', 'Once upon a time', 'The nurse said', 'Lily saw a big red ball'].map((p) => attributionExample(f, p, ' he'));
    const roomy = new Attributor(attributionModel(f), { maxBatch: 4, memoryLimitMiB: 4096 });
    const r1 = await roomy.run(exs);
    await roomy.close();
    expect(r1.plan.batchSize).toBe(4);
    expect(r1.plan.bytesPerExample).toBeGreaterThan(0);
    // A budget of two examples' footprint allows a batch of two.
    const budget = (2.5 * r1.plan.bytesPerExample) / 2 ** 20;
    const tight = new Attributor(attributionModel(f), { maxBatch: 4, memoryLimitMiB: budget });
    const r2 = await tight.run(exs);
    await tight.close();
    expect(r2.plan.batchSize).toBe(2);
    expect(r2.plan.buckets.every((b) => b.batch === 2)).toBe(true);
    for (let e = 0; e < exs.length; e++) expect(r2.logprob[e]).toBeCloseTo(r1.logprob[e]!, 4);
  });
});

describe('length buckets', () => {
  it('pad inputs by less than an eighth past 8 multiples, and targets to a multiple of 4', () => {
    expect([1, 16, 17, 32, 128, 129, 131, 144, 145].map((n) => bucketLength(n, 16))).toEqual([16, 16, 32, 32, 128, 144, 144, 144, 160]);
    for (let n = 1; n <= 2048; n++) {
      const b = bucketLength(n, 16);
      expect(b).toBeGreaterThanOrEqual(n);
      if (n > 128) expect((b - n) / n, String(n)).toBeLessThan(1 / 8);
    }
    expect([1, 3, 4, 5].map((n) => bucketLength(n, TARGET_MULTIPLE))).toEqual([4, 4, 4, 8]);
  });
});
