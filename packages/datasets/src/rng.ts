/** The seeded PRNG lives in core (shared with judges and bench); re-exported for this package. */
export { createRng, hashSeed, type Rng } from '@crispr-bench/core/common';
