import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FileFormatError, parseJsonl } from '@crispr-bench/core/common';
import { z } from 'zod';

/**
 * Download of the official BBQ data files from their public repository at a pinned commit.
 *
 * Six files are pinned by sha256 and size (computed from the copies this project was built
 * against). The other five could not be obtained when this was written, so they cannot be
 * pinned; for them we verify what we can: every line is a JSON object whose "category" is the
 * file's category, and the number of lines equals the count the BBQ paper reports for the
 * category (Parrish et al. 2022, Table 1; the SES, Race_ethnicity and Gender_identity counts
 * are also what our template expander produces with BBQ's downsampling).
 */

export const BBQ_REPO = 'nyu-mll/BBQ';
/** The commit the project's assets come from (short form, as GitHub shows it). */
export const BBQ_COMMIT = 'bea11bd';
export const BBQ_BASE_URL = `https://raw.githubusercontent.com/${BBQ_REPO}/${BBQ_COMMIT}/data/`;
export const BBQ_BROWSE_URL = `https://github.com/${BBQ_REPO}/tree/${BBQ_COMMIT}/data`;

export interface BbqFilePin {
  category: string;
  /** Items (lines) in the file. */
  items: number;
  /** sha256 and size, when pinned. */
  sha256?: string;
  bytes?: number;
}

export const BBQ_FILES: readonly BbqFilePin[] = Object.freeze([
  { category: 'Age', items: 3680, bytes: 3091834, sha256: '46e805b3fc2d8cbd26eeb8e8430d98cf7b2dc9c83574ff3674e8ce4f0fca2a60' },
  { category: 'Disability_status', items: 1556, bytes: 1336984, sha256: '375d40d9b71f056150264445ec189b13934998f3f49a1e311aa7578eb3b45e5f' },
  { category: 'Nationality', items: 3080, bytes: 2900040, sha256: 'a583e74666aec0341ded8aa3983e7cad694eb24de72c254d28b2df3035720090' },
  { category: 'Physical_appearance', items: 1576, bytes: 1347476, sha256: 'e48d7e13508565f4801574e611043470c25c95a0a62af3699cb5ee7cb02608fb' },
  { category: 'Religion', items: 1200, bytes: 1118728, sha256: 'cb9555f9f3454a52cd2df85956b59bd7fcca5aa922c8527693b1164d08417616' },
  { category: 'Sexual_orientation', items: 864, bytes: 729010, sha256: '2c71036b9e7584fe589c42aef32c1a42bc01b9a5e9b1b8704342630cdb08cefd' },
  // Not pinned by hash (files unavailable here): counts from the BBQ paper.
  { category: 'Gender_identity', items: 5672 },
  { category: 'Race_ethnicity', items: 6880 },
  { category: 'SES', items: 6864 },
  { category: 'Race_x_SES', items: 11160 },
  { category: 'Race_x_gender', items: 15960 },
]);

export interface FetchBbqOptions {
  out: string;
  /** Categories to fetch (default all eleven). */
  categories?: string[];
  /** Where <Category>.jsonl files are fetched from (default the pinned GitHub raw URL). */
  baseUrl?: string;
  /** Per-file timeout in milliseconds (default 60 s). */
  timeoutMs?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

export interface FetchedFile {
  category: string;
  path: string;
  sha256: string;
  /** 'sha256': matched the pin. 'count': unpinned, line count and categories checked. */
  verified: 'sha256' | 'count';
  /** True when the file was already in place and verified, so nothing was downloaded. */
  present: boolean;
}

/** A download or verification failure; the message says what to do by hand. */
export class BbqFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BbqFetchError';
  }
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Checks a file's content against its pin; returns a problem, or null when it verifies. */
export function verifyBbqContent(pin: BbqFilePin, data: Buffer): { problem: string | null; sha256: string } {
  const sha = sha256Hex(data);
  if (pin.sha256 !== undefined) {
    if (sha !== pin.sha256) {
      return { sha256: sha, problem: `sha256 mismatch: expected ${pin.sha256}, got ${sha} (${data.length} bytes, expected ${pin.bytes})` };
    }
    return { sha256: sha, problem: null };
  }
  let rows: number;
  try {
    rows = parseJsonl(data.toString('utf8'), `${pin.category}.jsonl`, z.looseObject({ category: z.literal(pin.category) })).rows.length;
  } catch (e) {
    if (!(e instanceof FileFormatError)) throw e;
    return { sha256: sha, problem: e.message };
  }
  if (rows !== pin.items) {
    return { sha256: sha, problem: `expected ${pin.items} lines (the BBQ paper's count for ${pin.category}), got ${rows}` };
  }
  return { sha256: sha, problem: null };
}

function manualHelp(out: string, cats: string[]): string {
  return (
    `To fetch by hand: download ${cats.map((c) => `data/${c}.jsonl`).join(', ')} from ${BBQ_BROWSE_URL} ` +
    `(raw files under ${BBQ_BASE_URL}), put them in ${resolve(out)}/ under the same names, and run ` +
    '`crispr data fetch bbq --out ' +
    out +
    '` again: files already there are verified, not downloaded.'
  );
}

async function exists(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

export async function fetchBbq(opts: FetchBbqOptions): Promise<FetchedFile[]> {
  const log = opts.log ?? (() => {});
  const base = opts.baseUrl ?? BBQ_BASE_URL;
  const baseSlash = base.endsWith('/') ? base : `${base}/`;
  const known = BBQ_FILES.map((f) => f.category);
  const cats = opts.categories ?? known;
  const unknown = cats.filter((c) => !known.includes(c));
  if (unknown.length > 0) throw new BbqFetchError(`unknown BBQ categories: ${unknown.join(', ')} (known: ${known.join(', ')})`);
  await mkdir(opts.out, { recursive: true });
  const done: FetchedFile[] = [];
  for (const cat of cats) {
    const pin = BBQ_FILES.find((f) => f.category === cat)!;
    const path = join(opts.out, `${cat}.jsonl`);
    if (await exists(path)) {
      const v = verifyBbqContent(pin, await readFile(path));
      if (v.problem === null) {
        log(`${cat}: already present and verified (${pin.sha256 ? 'sha256' : 'line count'})`);
        done.push({ category: cat, path, sha256: v.sha256, verified: pin.sha256 ? 'sha256' : 'count', present: true });
        continue;
      }
      log(`${cat}: the file in place does not verify (${v.problem}); downloading again`);
    }
    const url = `${baseSlash}${cat}.jsonl`;
    let data: Buffer;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      data = Buffer.from(await res.arrayBuffer());
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const cause = err.cause?.code ?? err.cause?.message ?? err.message;
      throw new BbqFetchError(
        `could not download ${url}: ${cause}. This machine may be offline. ` +
          manualHelp(
            opts.out,
            cats.filter((c) => !done.some((d) => d.category === c)),
          ),
      );
    }
    const v = verifyBbqContent(pin, data);
    if (v.problem !== null) {
      throw new BbqFetchError(`${url}: downloaded file does not verify: ${v.problem}. Nothing was written for ${cat}.`);
    }
    const part = `${path}.part`;
    await writeFile(part, data);
    await rm(path, { force: true });
    await rename(part, path);
    log(`${cat}: downloaded ${data.length} bytes, verified (${pin.sha256 ? 'sha256' : 'line count'})`);
    done.push({ category: cat, path, sha256: v.sha256, verified: pin.sha256 ? 'sha256' : 'count', present: false });
  }
  return done;
}
