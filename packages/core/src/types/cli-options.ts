/**
 * Option values of every `crispr` command, checked one way: each helper takes the flag name, the
 * raw string from parseCommandLine (undefined when the flag was not given) and its constraints,
 * and throws a UsageError naming the flag, the value and the allowed form.
 */
import { existsSync } from 'node:fs';
import { UsageError, UserError } from './cli.js';
import type { SiteKind } from './site-kinds.js';

/** `seed` and `--seed` both name the flag `--seed`. */
function flagOf(name: string): string {
  return name.startsWith('-') ? name : `--${name}`;
}

export interface Range {
  min?: number;
  max?: number;
  /** min itself is not allowed (e.g. (0, 1) for a fraction). */
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

function rangeText(r: Range): string {
  const lo = r.min === undefined ? '' : `${r.minExclusive ? '>' : '>='} ${r.min}`;
  const hi = r.max === undefined ? '' : `${r.maxExclusive ? '<' : '<='} ${r.max}`;
  return [lo, hi].filter(Boolean).join(' and ');
}

function inRange(n: number, r: Range): boolean {
  if (r.min !== undefined && (r.minExclusive ? n <= r.min : n < r.min)) return false;
  if (r.max !== undefined && (r.maxExclusive ? n >= r.max : n > r.max)) return false;
  return true;
}

function checkedInt(flag: string, raw: string, r: Range, shown = raw): number {
  const n = Number(raw.trim());
  const form = ['an integer', rangeText(r)].filter(Boolean).join(' ');
  if (!/^[-+]?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || !inRange(n, r)) throw new UsageError(`${flag} must be ${form}, got '${shown}'`);
  return n;
}

/** An integer option (`--top 20`), in a range. */
export function intOption(name: string, value: string | undefined, opts: Range & { default: number }): number;
export function intOption(name: string, value: string | undefined, opts?: Range): number | undefined;
export function intOption(name: string, value: string | undefined, opts: Range & { default?: number } = {}): number | undefined {
  if (value === undefined) return opts.default;
  return checkedInt(flagOf(name), value, opts);
}

/** A finite number option (`--lambda 0.5`, `--dev-fraction 0.3`), in a range. */
export function numberOption(name: string, value: string | undefined, opts: Range & { default: number }): number;
export function numberOption(name: string, value: string | undefined, opts?: Range): number | undefined;
export function numberOption(name: string, value: string | undefined, opts: Range & { default?: number } = {}): number | undefined {
  if (value === undefined) return opts.default;
  // Number('') is 0 and Number(' 1 ') is 1: only a written-out number counts.
  const n = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(n) || !inRange(n, opts)) {
    throw new UsageError(`${flagOf(name)} must be ${['a number', rangeText(opts)].filter(Boolean).join(' ')}, got '${value}'`);
  }
  return n;
}

/** One of a fixed set of words (`--reduce max|mean`). */
export function choiceOption<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback: T): T;
export function choiceOption<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T | undefined;
export function choiceOption<T extends string>(name: string, value: string | undefined, allowed: readonly T[], fallback?: T): T | undefined {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`${flagOf(name)} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

/** A comma-separated list (`--categories Age,SES`): items trimmed, empty items dropped; an empty list is an error. */
export function listOption(name: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (items.length === 0) throw new UsageError(`${flagOf(name)} must be a comma-separated list, got '${value}'`);
  return items;
}

/** A comma-separated list of integers in a range (`--k 0,1,2,4`, `--prompt-ids 12,7`). */
export function intListOption(name: string, value: string | undefined, opts: Range & { default: number[] }): number[];
export function intListOption(name: string, value: string | undefined, opts?: Range): number[] | undefined;
export function intListOption(name: string, value: string | undefined, opts: Range & { default?: number[] } = {}): number[] | undefined {
  if (value === undefined) return opts.default;
  const flag = flagOf(name);
  const items = listOption(name, value)!;
  return items.map((x) => checkedInt(flag, x, opts, items.length > 1 ? `${x}' in '${value}` : value));
}

/** A flag that must be given; `metavar` is the placeholder the message shows (`--out <dir> is required`). */
export function requiredOption(name: string, value: string | undefined, metavar?: string, usage?: string): string {
  if (value === undefined || value === '') {
    throw new UsageError(`${flagOf(name)}${metavar ? ` ${metavar}` : ''} is required${usage ? `\n\n${usage}` : ''}`);
  }
  return value;
}

/** A required option naming a folder or file that must exist (`--model <dir>`). */
export function requiredPath(name: string, value: string | undefined, metavar: string, usage?: string): string {
  const path = requiredOption(name, value, metavar, usage);
  if (!existsSync(path)) throw new UserError(`${path}: no such folder`);
  return path;
}

/** Every site kind, checked against SiteKind by the compiler in both directions (a new kind must be added here). */
const KINDS: Record<SiteKind, true> = {
  attn_q: true,
  attn_k: true,
  attn_v: true,
  attn_o: true,
  attn_qkv: true,
  cross_q: true,
  cross_k: true,
  cross_v: true,
  cross_o: true,
  ffn_in: true,
  ffn_gate: true,
  ffn_up: true,
  ffn_down: true,
};
export const SITE_KINDS = Object.keys(KINDS) as SiteKind[];

export type KindsSelection = 'all' | 'ffn' | SiteKind[];

/**
 * `--kinds all | ffn | <kind>,<kind>...`, shared by explain and run: which neuron sites to
 * attribute. A misspelt kind is refused here rather than silently selecting no sites.
 */
export function kindsOption(name: string, value: string | undefined): KindsSelection {
  if (value === undefined || value.trim() === 'all') return 'all';
  if (value.trim() === 'ffn') return 'ffn';
  const items = listOption(name, value)!;
  const bad = items.filter((k) => !Object.hasOwn(KINDS, k));
  if (bad.length)
    throw new UsageError(
      `${flagOf(name)} must be all, ffn or comma-separated site kinds (${SITE_KINDS.join(', ')}), got '${value}' (unknown: ${bad.join(', ')})`,
    );
  return items as SiteKind[];
}
