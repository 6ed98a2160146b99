export * from './bbq/types.js';
export { loadBbqFile, loadBbqDir, parseBbqJsonl, listBbqCategories } from './bbq/loader.js';
export type { BbqLoadOptions, BbqDirOptions } from './bbq/loader.js';
export { validateBbqRecord, bbqRecordToItem } from './bbq/record.js';
export { deriveTargetIndex, deriveUnknownIndex, isUnknownPhrase, normaliseGroup } from './bbq/target.js';
export { BBQ_UNKNOWN_PHRASES } from '@crispr-bench/core';
export { createRng, hashSeed } from './rng.js';
export type { Rng } from './rng.js';
export { assetsDir, assetsPresent } from './assets.js';
