export * from './bbq/types.js';
export { loadBbqFile, loadBbqDir, parseBbqJsonl, listBbqCategories } from './bbq/loader.js';
export type { BbqLoadOptions, BbqDirOptions } from './bbq/loader.js';
export { bbqRecord, bbqRecordToItem } from './bbq/record.js';
export { deriveTargetIndex, deriveUnknownIndex, isUnknownPhrase, normaliseGroup } from './bbq/target.js';
export { BBQ_UNKNOWN_PHRASES } from './bbq/unknown-phrases.js';
export { createRng, hashSeed } from './rng.js';
export type { Rng } from './rng.js';
export { assetsDir, assetsPresent } from './assets.js';
export {
  expandTemplates,
  expandTemplateSet,
  iterateExpansion,
  toBbqJsonl,
  slotText,
  malformedSlot,
} from './bbq/expander.js';
export type { ExpandMode, ExpandOptions } from './bbq/expander.js';
export {
  EXPANDABLE_CATEGORIES,
  readTemplateSet,
  readVocabulary,
  readProperNames,
  parseSlotLists,
  parseGroupList,
} from './bbq/templates.js';
export type { TemplateSet, TemplateRow, VocabEntry, NameEntry } from './bbq/templates.js';
export { expansionCoverage } from './bbq/coverage.js';
export type { CoverageReport } from './bbq/coverage.js';
export { pronounItems, pronounOccupations, pronounSource, directionOf } from './pronoun/index.js';
export type { PronounItem, PronounMeta, PronounOptions, Occupation, Direction } from './pronoun/index.js';
export { loadMcJsonl, parseMcJsonl } from './mc/index.js';
export type { McLoadOptions, McLoadResult } from './mc/index.js';
export { loadInstructions, paperInstructions, ownInstructions, resolveInstructions } from './instructions/index.js';
export type { InstructionSet } from './instructions/index.js';
export {
  renderPrompt,
  resolveTemplate,
  answerStrings,
  PROMPT_TEMPLATES,
  DEFAULT_TEMPLATE,
  PAPER_TEMPLATE,
  LETTERED_TEMPLATE,
  FRAME_TEMPLATE,
  GENERIC_MC_TEMPLATE,
} from './prompts/index.js';
export type { PromptTemplate } from './prompts/index.js';
export { splitDevTest, attributionSamples, filterItems, stratumOf, allocate } from './splits.js';
export type { ItemFilter, SplitOptions, AttributionSampleOptions, AttributionTrial } from './splits.js';
export {
  fetchBbq,
  verifyBbqContent,
  sha256Hex,
  BbqFetchError,
  BBQ_FILES,
  BBQ_REPO,
  BBQ_COMMIT,
  BBQ_BASE_URL,
  BBQ_BROWSE_URL,
} from './bbq/fetch.js';
export type { BbqFilePin, FetchBbqOptions, FetchedFile } from './bbq/fetch.js';
export {
  ORGANISM_DATA_DIR,
  ORGANISM_TEMPLATES_DIR,
  organismCategories,
  organismBbqItems,
  organismInstructions,
  organismRetentionItems,
  biasedAnswerIndex,
  plantedLabel,
} from './organism/index.js';
export type { OrganismSplit } from './organism/index.js';
