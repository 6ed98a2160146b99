/**
 * Test-only model generators and presets, for tests, benchmarks and scripts (not the product):
 * tiny and benchmark-sized T5 shapes and the planted-answer Llama. The generators the product
 * ships (makeT5Folder, makeLlamaFolder) stay in core.
 *
 * A dependency of the workspace root, not of core: core's tests use it and it uses core, and turbo
 * refuses a cycle between packages' tasks.
 */
export { T5_TINY, FLAN_T5_SMALL_SHAPE, T5_BENCH_512 } from './t5-presets.js';
export { LLAMA_TINY, PLANTED_WORDS, EMBED_CONSTANT, makePlantedLlamaFolder, type PlantedLlamaOptions, type PlantedLlamaSummary } from './planted-llama.js';
export { bbqRecord, jsonl } from './bbq-records.js';
export { centralDifference } from './finite-difference.js';
export { T5_CHOICE_ITEMS, worstScaledError } from './choice-items.js';
