import { BBQ_UNKNOWN_PHRASES } from './unknown-phrases.js';
import type { AnswerInfoEntry } from './schema.js';

/**
 * Stereotyped-target derivation for BBQ items.
 *
 * answer_info labels and stereotyped_groups are written in several vocabularies across the
 * categories (checked against the official files and templates):
 *   - plain group labels that equal a stereotyped group: "old"/"nonOld", "obese", "disabled",
 *     "gay", "Muslim", "lowSES"/"highSES" (groups spell it "low SES");
 *   - Nationality labels are regions ("Europe") while the groups are nationalities ("British"):
 *     the answer text carries the match;
 *   - gender: vocabulary words ("man", "girl"), name genders ("F", "M"), groups "F"/"M";
 *   - proper names: race names carry "F-Black" (gender prefix), gender names with template info
 *     carry "trans_F" / "nonTrans_M" (template label, underscore, name gender);
 *   - trans groups are spelled "Transgender women", "transgender men", "trans".
 * Matching is by whole normalised tokens, never substrings (so "old" does not match "nonOld" and
 * "African" does not match "African American"). Labels are tried first, answer texts second; a
 * target is returned only when exactly one non-unknown option matches.
 */

const GENDER_WORDS: Record<string, string> = {
  man: 'm',
  men: 'm',
  boy: 'm',
  boys: 'm',
  male: 'm',
  m: 'm',
  woman: 'f',
  women: 'f',
  girl: 'f',
  girls: 'f',
  female: 'f',
  f: 'f',
};

/** Lower-case, drop spaces, hyphens and underscores, map gender words and trans spellings. */
export function normaliseGroup(raw: string): string {
  const s = raw
    .trim()
    .toLowerCase()
    .replace(/[\s\-_]+/g, '');
  if (s in GENDER_WORDS) return GENDER_WORDS[s]!;
  if (s === 'trans' || s === 'transgender' || s.startsWith('transgender')) return 'trans';
  return s;
}

/** Every key an answer label can match: the whole label, its name-gender-stripped form, its parts. */
export function labelKeys(label: string): Set<string> {
  const keys = new Set<string>();
  const l = label.trim();
  if (l === '') return keys;
  keys.add(normaliseGroup(l));
  // Race proper names: "F-Black" -> "Black".
  const noGender = l.replace(/^[MF]-/, '');
  keys.add(normaliseGroup(noGender));
  // Gender proper names with template info: "trans_F" -> "trans" and "F".
  if (l.includes('_')) for (const part of l.split('_')) if (part.trim() !== '') keys.add(normaliseGroup(part));
  return keys;
}

export interface TargetDerivation {
  index: number | null;
  /** How the target was found ("label" | "text"), or why not. */
  note: string;
}

function matching(infos: readonly AnswerInfoEntry[], unknownIndex: number, groups: Set<string>, keysOf: (e: AnswerInfoEntry) => Set<string>): number[] {
  const out: number[] = [];
  infos.forEach((e, i) => {
    if (i === unknownIndex) return;
    for (const k of keysOf(e)) if (groups.has(k)) return void out.push(i);
  });
  return out;
}

export function deriveTargetIndex(infos: readonly AnswerInfoEntry[], stereotypedGroups: readonly string[], unknownIndex: number): TargetDerivation {
  const groups = new Set(stereotypedGroups.map(normaliseGroup).filter((g) => g !== ''));
  if (groups.size === 0) return { index: null, note: 'stereotyped_groups is empty' };
  const byLabel = matching(infos, unknownIndex, groups, (e) => labelKeys(e[1]));
  if (byLabel.length === 1) return { index: byLabel[0]!, note: 'label' };
  if (byLabel.length > 1) {
    return { index: null, note: `both answers' labels match stereotyped_groups (${byLabel.map((i) => infos[i]![1]).join(', ')})` };
  }
  const byText = matching(infos, unknownIndex, groups, (e) => new Set([normaliseGroup(e[0])]));
  if (byText.length === 1) return { index: byText[0]!, note: 'text' };
  if (byText.length > 1) return { index: null, note: "both answers' texts match stereotyped_groups" };
  return {
    index: null,
    note: `no answer label or text matches stereotyped_groups [${stereotypedGroups.join(', ')}]`,
  };
}

const UNKNOWN_SET = new Set(BBQ_UNKNOWN_PHRASES.map((p) => p.toLowerCase()));

/** True for one of the ten BBQ "unknown" phrasings (case-insensitive, surrounding space ignored). */
export function isUnknownPhrase(text: string): boolean {
  return UNKNOWN_SET.has(text.trim().toLowerCase());
}

/**
 * Index of the unknown option: the answer_info entry labelled "unknown"; when the labels do not
 * say, the option whose text is one of the ten phrasings. null when not exactly one qualifies.
 */
export function deriveUnknownIndex(infos: readonly AnswerInfoEntry[], options: readonly string[]): number | null {
  const byLabel = infos.flatMap((e, i) => (e[1].trim().toLowerCase() === 'unknown' ? [i] : []));
  if (byLabel.length === 1) return byLabel[0]!;
  if (byLabel.length > 1) return null;
  const byText = options.flatMap((o, i) => (isUnknownPhrase(o) ? [i] : []));
  return byText.length === 1 ? byText[0]! : null;
}
