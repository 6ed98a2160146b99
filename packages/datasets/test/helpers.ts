import { join } from 'node:path';
import { assetsDir, assetsPresent } from '../src/assets.js';

export const FIXTURES = join(import.meta.dirname, 'fixtures');
export const BBQ_DATA = join(assetsDir(), 'bbq', 'data');
export const BBQ_TEMPLATES = join(assetsDir(), 'bbq', 'templates');
export const HAVE_BBQ_DATA = assetsPresent('bbq/data/Age.jsonl');
export const HAVE_BBQ_TEMPLATES = assetsPresent('bbq/templates/vocabulary.csv');
export const SKIP_REASON = `shared assets not found at ${assetsDir()} (set CRISPR_ASSETS to a folder holding bbq/data and bbq/templates)`;
if (!HAVE_BBQ_DATA || !HAVE_BBQ_TEMPLATES) console.warn(`[datasets tests] skipping asset tests: ${SKIP_REASON}`);
