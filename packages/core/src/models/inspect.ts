/** What `crispr inspect` reports about a model folder, as data: layout, files, sites per file, problems. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { analyseFile, loadModelFolder, type FileSites } from './folder.js';
import { detectLayout, DEFAULT_VARIANT, readJsonObject, type Layout } from './layout.js';
import { countNeurons } from './sites.js';

export interface InspectReport {
  model: string;
  layout: Layout | null;
  /** Sites per analysed file; empty when the folder could not be loaded. */
  files: FileSites[];
  sites: { total: number; neurons: number; inputSide: number; targetSide: number } | null;
  tokenizer: string;
  /** Why the folder cannot be used as it is, when it cannot. */
  error?: string;
}

/** Everything `crispr inspect` reports; a folder that fails to load still gets its layout, the sites of each file that reads, and the error. */
export async function inspectFolder(dir: string, variant?: string): Promise<InspectReport> {
  const root = resolve(dir);
  let layout: Layout;
  try {
    layout = detectLayout(root, variant ?? DEFAULT_VARIANT);
  } catch (e) {
    return { model: dir, layout: null, files: [], sites: null, tokenizer: 'not checked', error: (e as Error).message };
  }
  const hasTokenizer = existsSync(join(root, 'tokenizer.json'));
  let tokenizer = hasTokenizer ? 'not checked' : 'tokenizer.json is missing (sites and attribution by ids still work)';
  let files: FileSites[] = [];
  let sites: InspectReport['sites'] = null;
  const problems: string[] = [];
  try {
    const folder = await loadModelFolder(root, { tokenizer: hasTokenizer, strictSites: false, ...(variant ? { variant } : {}) });
    files = folder.fileSites;
    const s = folder.sites;
    sites = {
      total: s.length,
      neurons: countNeurons(s),
      inputSide: countNeurons(s.filter((x) => x.side === 'input')),
      targetSide: countNeurons(s.filter((x) => x.side === 'target')),
    };
    if (hasTokenizer) tokenizer = "tokenizer.json loads and its ids fit the model's vocabulary";
  } catch (e) {
    problems.push((e as Error).message);
    // The folder does not load: read each file on its own, so the report still shows what was found where.
    const config = readJsonObject(join(root, 'config.json'));
    for (const f of layout.files.filter((x) => x.analysed)) {
      try {
        files.push((await analyseFile(root, f.file, f.role, layout, config)).found);
      } catch (err) {
        if ((err as Error).message !== (e as Error).message) problems.push((err as Error).message);
      }
    }
  }
  const unrecognised = files.reduce((a, f) => a + f.unrecognised.length, 0);
  if (unrecognised)
    problems.push(
      `${unrecognised} linear layer(s) have no recoverable module name; crispr sites, explain and run refuse the folder until they do (crispr sites --lenient skips them)`,
    );
  return { model: dir, layout, files, sites, tokenizer, ...(problems.length ? { error: problems.join('\n') } : {}) };
}
