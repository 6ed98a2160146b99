/**
 * Published files never carry a local absolute path: metadata strings are rewritten so that
 * absolute paths become relative to the results folder they came from.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { homedir } from 'node:os';

// An absolute POSIX path of two or more segments standing alone (after a space, quote, '=' or
// bracket: not inside a URL, a ratio like 1/2, markup like </b> or a relative path), or a Windows drive path.
const ABSOLUTE = /(?<=^|[\s"'=([,])\/[^\s"'<>(),;|*?`/]+(?:\/[^\s"'<>(),;|*?`/]*)+|\b[A-Za-z]:\\[^\s"'<>|*?`]+/g;
const HOME = /(?<![\w./])~\/[^\s"'<>(),;|*?`]*/g;

function rel(base: string, p: string): string {
  const r = relative(base, p).split(sep).join('/');
  return r === '' ? '.' : r;
}

/** Rewrites every absolute path inside `text` relative to `base` (an absolute folder). */
export function publishable(text: string, base: string): string {
  return text.replace(HOME, (m) => rel(base, homedir() + m.slice(1))).replace(ABSOLUTE, (m) => (isAbsolute(m) ? rel(base, m) : m));
}

/** publishable() applied to every string inside a JSON-like value. */
export function publishableValue(v: unknown, base: string): unknown {
  if (typeof v === 'string') return publishable(v, base);
  if (Array.isArray(v)) return v.map((x) => publishableValue(x, base));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, publishableValue(x, base)]));
  return v;
}
