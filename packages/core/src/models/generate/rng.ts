/**
 * Seeded random numbers for generated test models. Each tensor gets its own stream derived from
 * (seed, tensor name), so a tensor's values do not depend on how many tensors were drawn before
 * it: changing the layer count leaves the shared layers' weights unchanged.
 */

import { createRng, hashSeed, type Rng } from '../../util/random.js';

/** 32-bit FNV-1a hash of a string (core's seed hash). */
export const hashString = (s: string): number => hashSeed(s);

/** Core's seeded generator (mulberry32) with Box-Muller normals. */
export class SeededRandom {
  private rng: Rng;
  private spare: number | null = null;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`random seed must be a finite number, got ${seed}`);
    // The xor keeps the streams of models generated before the generator was shared.
    this.rng = createRng((Math.floor(seed) ^ 0x6d2b79f5) >>> 0);
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.rng.next();
  }

  /** Standard normal. */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = this.uniform();
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** The stream for one named tensor of a model with this seed. */
  static forTensor(seed: number, name: string): SeededRandom {
    return new SeededRandom((hashString(name) ^ Math.imul(Math.floor(seed) >>> 0, 0x9e3779b1)) >>> 0);
  }
}
