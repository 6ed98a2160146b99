/**
 * Bootstrap resamples and domain-word draws use core's seeded PRNG (mulberry32), so that they
 * are reproducible from a seed across machines and Node versions.
 */
import { createRng, type Rng } from '@crispr-bench/core/common';

export type { Rng };

export function mulberry32(seed: number): Rng {
  if (!Number.isInteger(seed)) throw new RangeError(`mulberry32: seed must be an integer, got ${seed}`);
  return createRng(seed);
}
