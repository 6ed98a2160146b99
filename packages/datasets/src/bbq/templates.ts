import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';

/**
 * Reading the official BBQ template CSVs ("new_templates - <Category>.csv", shortened here to
 * "<Category>.csv") and the two vocabulary files. Columns vary by category (Names, Subcategory,
 * version, Proper_nouns_only and NAME1_info/NAME2_info exist only in some files), so rows are
 * kept as string maps and the expander asks for columns by name.
 */

/** Categories the single-dimension expander handles (the intersectional *_x_* files differ). */
export const EXPANDABLE_CATEGORIES = [
  'Age',
  'Disability_status',
  'Gender_identity',
  'Nationality',
  'Physical_appearance',
  'Race_ethnicity',
  'Religion',
  'SES',
  'Sexual_orientation',
] as const;

export interface TemplateRow {
  /** 1-based CSV line of the row's start, for error messages. */
  line: number;
  cells: Record<string, string>;
}

export interface VocabEntry {
  category: string;
  subcat: string;
  name: string;
  info: string;
}

export interface NameEntry {
  name: string;
  /** "first" (carries an ethnicity), "first_only" (no ethnicity), "last". */
  firstLast: string;
  gender: string;
  ethnicity: string;
}

export interface TemplateSet {
  category: string;
  file: string;
  columns: string[];
  rows: TemplateRow[];
  /** vocabulary.csv without the rows marked Pilot_include = "No". */
  vocab: VocabEntry[];
  names: NameEntry[];
}

async function readCsv(path: string): Promise<{ columns: string[]; rows: TemplateRow[] }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read BBQ template file ${path}: ${(e as Error).message}`);
  }
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, relax_column_count: true, info: true }) as unknown as typeof records;
  } catch (e) {
    throw new Error(`cannot parse CSV ${path}: ${(e as Error).message}`);
  }
  if (records.length === 0) throw new Error(`${path}: empty CSV`);
  const columns = records[0]!.record.map((c) => c.trim());
  const rows = records.slice(1).map((r, i) => {
    const cells: Record<string, string> = {};
    columns.forEach((c, j) => {
      if (c !== '') cells[c] = r.record[j] ?? '';
    });
    // info.lines is the line where the record ends; good enough to find the row.
    return { line: r.info.lines ?? i + 2, cells };
  });
  return { columns, rows };
}

export async function readVocabulary(dir: string): Promise<VocabEntry[]> {
  const { columns, rows } = await readCsv(join(dir, 'vocabulary.csv'));
  for (const c of ['Category', 'Name', 'Info', 'SubCat', 'Pilot_include']) {
    if (!columns.includes(c)) throw new Error(`${join(dir, 'vocabulary.csv')}: missing column "${c}"`);
  }
  return rows
    .filter((r) => r.cells.Pilot_include !== 'No')
    .map((r) => ({ category: r.cells.Category!, subcat: r.cells.SubCat!, name: r.cells.Name!, info: r.cells.Info! }));
}

export async function readProperNames(dir: string): Promise<NameEntry[]> {
  const { columns, rows } = await readCsv(join(dir, 'vocabulary_proper_names.csv'));
  for (const c of ['Name', 'First_last', 'gender', 'ethnicity']) {
    if (!columns.includes(c)) throw new Error(`${join(dir, 'vocabulary_proper_names.csv')}: missing column "${c}"`);
  }
  return rows.map((r) => ({
    name: r.cells.Name!,
    firstLast: r.cells.First_last!,
    gender: r.cells.gender!,
    ethnicity: r.cells.ethnicity!,
  }));
}

const REQUIRED = [
  'Q_id',
  'Ambiguous_Context',
  'Disambiguating_Context',
  'Lexical_diversity',
  'Question_negative_stereotype',
  'Question_non_negative',
  'Answer_negative',
  'Answer_non_negative',
  'Known_stereotyped_groups',
  'Notes',
];

/** Reads <dir>/<category>.csv plus the vocabularies. */
export async function readTemplateSet(dir: string, category: string): Promise<TemplateSet> {
  if (!(EXPANDABLE_CATEGORIES as readonly string[]).includes(category)) {
    const hint = category.includes('_x_') ? ' (the intersectional categories use a different template format and are not supported)' : '';
    throw new Error(`cannot expand category "${category}"${hint}; expandable: ${EXPANDABLE_CATEGORIES.join(', ')}`);
  }
  const file = join(dir, `${category}.csv`);
  const { columns, rows } = await readCsv(file);
  for (const c of REQUIRED) if (!columns.includes(c)) throw new Error(`${file}: missing column "${c}"`);
  return { category, file, columns, rows, vocab: await readVocabulary(dir), names: await readProperNames(dir) };
}

/**
 * Parses a slot list such as "NAME1: [a, b]; NAME2: [c, d]" or "{{WORD1}}: [x, y]" into
 * { NAME1: [a, b], NAME2: [c, d] }. Items inside brackets are split on commas; a semicolon inside
 * brackets (one official row writes "[deaf person; hard-of-hearing person]") also separates items.
 */
export function parseSlotLists(text: string, where: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const re = /(?:\{\{)?\s*(NAME[12]|WORD[12])\s*(?:\}\})?\s*:\s*\[([^\]]*)\]/g;
  let m: RegExpExecArray | null;
  let consumed = text;
  while ((m = re.exec(text)) !== null) {
    out[m[1]!] = m[2]!
      .split(/[,;]/)
      .map((s) => s.trim())
      .filter((s) => s !== '');
    consumed = consumed.replace(m[0], '');
  }
  if (consumed.replace(/[;\s]/g, '') !== '' || Object.keys(out).length === 0) {
    throw new Error(`${where}: cannot read slot list ${JSON.stringify(text)} (expected "NAME1: [a, b]; NAME2: [c, d]")`);
  }
  return out;
}

/** Parses Known_stereotyped_groups, a Python/JSON list literal such as '["Black", "African American"]'. */
export function parseGroupList(text: string, where: string): string[] {
  const t = text.trim();
  if (t === '') return [];
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // fall through to the single-quote form
  }
  const items = t.match(/^\[(.*)\]$/s);
  if (items) {
    const parts = [...items[1]!.matchAll(/'([^']*)'|"([^"]*)"/g)].map((m) => m[1] ?? m[2]!);
    if (parts.length > 0) return parts;
  }
  throw new Error(`${where}: Known_stereotyped_groups is not a list of strings: ${JSON.stringify(text)}`);
}
