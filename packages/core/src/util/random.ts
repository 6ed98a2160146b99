/**
 * Seeded pseudo-random numbers (mulberry32). Expansions, splits, samples, bootstrap resamples and
 * random-pruning controls all draw from an Rng, so every result is reproducible from its seed
 * on any machine and Node version (Math.random is not).
 */
export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  choice<T>(xs: readonly T[]): T;
  /** k distinct elements in random order (k clamped to xs.length). */
  sample<T>(xs: readonly T[], k: number): T[];
  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(xs: readonly T[]): T[];
}

/** 32-bit FNV-1a hash; turns string seeds (and derived seeds) into numbers. */
export function hashSeed(seed: number | string): number {
  const s = String(seed);
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function createRng(seed: number | string): Rng {
  let a = typeof seed === 'number' && Number.isInteger(seed) ? seed >>> 0 : hashSeed(seed);
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(next() * n);
  };
  const shuffle = <T>(xs: readonly T[]): T[] => {
    const out = xs.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
  return {
    next,
    int,
    choice: (xs) => {
      if (xs.length === 0) throw new Error('rng.choice: empty list');
      return xs[int(xs.length)]!;
    },
    sample: (xs, k) => shuffle(xs).slice(0, Math.max(0, Math.min(k, xs.length))),
    shuffle,
  };
}
