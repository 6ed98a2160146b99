/**
 * The one way crispr-bench reads a JSON or JSONL file: parse, check against a zod schema, and on
 * failure name the file, the 1-based line (JSONL) and the field path
 * (`Religion.jsonl:17: answer_info.ans0: expected array, got "x"`). Every package reads its
 * formats through these, from the lowest layer (core's ONNX-free common part) so that datasets
 * and judges can use them too.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { UserError } from '../types/cli.js';

/**
 * A value that failed its schema: where (file, line when JSONL), which field, what is wrong.
 * A user's error (a bad input file), so the CLI prints it without a stack trace.
 */
export class FileFormatError extends UserError {
  readonly file: string;
  readonly line: number | undefined;
  /** The field path (`answer_info.ans0`, `neurons[3].unit`); undefined for the whole value. */
  readonly field: string | undefined;
  readonly reason: string;
  constructor(bad: { file: string; line?: number; field?: string; message: string }) {
    super(formatFileProblem(bad));
    this.name = 'FileFormatError';
    this.file = bad.file;
    this.line = bad.line;
    this.field = bad.field;
    this.reason = bad.message;
  }
}

/** A problem as one line: `file[:line]: [field: ]message`. */
export function formatFileProblem(bad: { file: string; line?: number; field?: string; message: string }): string {
  return `${bad.file}${bad.line !== undefined ? `:${bad.line}` : ''}: ${bad.field !== undefined ? `${bad.field}: ` : ''}${bad.message}`;
}

/** A short rendering of an offending value for messages. */
export function showValue(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * A schema's own message for a value of the wrong kind: "missing" when absent, else
 * `expected <what>, got <value>` (`z.int(expected('an integer 0..2'))`).
 */
export function expected(what: string): { error: (iss: { input?: unknown }) => string } {
  return { error: (iss) => (iss.input === undefined ? 'missing' : `expected ${what}, got ${showValue(iss.input)}`) };
}

/** `a.b[0].c` from a zod issue path. */
function fieldPath(path: readonly PropertyKey[]): string | undefined {
  if (path.length === 0) return undefined;
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
}

/**
 * Messages for zod's built-in checks: "missing" for an absent field, "expected <type>, got <value>"
 * for a wrong type. Custom messages given in a schema win over these.
 */
const messages: z.core.$ZodErrorMap = (iss) => {
  if (iss.code === 'invalid_type') return iss.input === undefined ? 'missing' : `expected ${iss.expected}, got ${showValue(iss.input)}`;
  if (iss.code === 'invalid_value') return `expected one of ${iss.values.map((v) => JSON.stringify(v)).join(' | ')}, got ${showValue(iss.input)}`;
  return undefined;
};

/** The first problem of a value against a schema, or the parsed value. */
export function checkWith<S extends z.ZodType>(schema: S, value: unknown): { value: z.output<S> } | { field: string | undefined; message: string } {
  const r = schema.safeParse(value, { error: messages });
  if (r.success) return { value: r.data };
  const issue = r.error.issues[0]!;
  return { field: fieldPath(issue.path), message: issue.message };
}

/** Parses one JSON value against a schema; a failure throws a FileFormatError naming `file` (and `line`). */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, file: string, line?: number): z.output<S> {
  const r = checkWith(schema, value);
  if ('value' in r) return r.value;
  throw new FileFormatError({ file, ...(line !== undefined ? { line } : {}), ...(r.field !== undefined ? { field: r.field } : {}), message: r.message });
}

/** Reads and checks a whole JSON file. */
export function readJsonFile<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  return parseJsonText(text, file, schema);
}

/** Parses and checks the text of a JSON file. */
export function parseJsonText<S extends z.ZodType>(text: string, file: string, schema: S): z.output<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new FileFormatError({ file, message: `invalid JSON: ${(e as Error).message}` });
  }
  return parseWith(schema, raw, file);
}

export interface JsonlOptions {
  /** Drop an unparseable last line (a writer killed mid-line appends at most one). */
  tornLastLine?: boolean;
  /**
   * 'error' (default): throw a FileFormatError on the first bad line. 'skip': leave bad lines
   * out and list them in `skipped`.
   */
  onBadLine?: 'error' | 'skip';
}

/** One good line of a JSONL file. */
export interface JsonlRow<T> {
  /** 1-based line number. */
  line: number;
  value: T;
}

/** A line left out with onBadLine 'skip'. */
export interface BadLine {
  file: string;
  line: number;
  field?: string;
  message: string;
}

/**
 * Parses JSONL text: blank lines are ignored, every other line is one JSON value checked against
 * the schema. `check` adds checks across lines (unique ids): it gets each parsed row in order and
 * returns a problem or null. Bad lines throw or are skipped as `onBadLine` says.
 */
export function parseJsonl<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  opts: JsonlOptions & { check?: (row: JsonlRow<z.output<S>>) => { field?: string; message: string } | null } = {},
): { rows: JsonlRow<z.output<S>>[]; skipped: BadLine[] } {
  const onBad = opts.onBadLine ?? 'error';
  if (onBad !== 'error' && onBad !== 'skip') throw new Error(`onBadLine must be "error" or "skip", got ${String(onBad)}`);
  const lines = text.split('\n');
  while (lines.length && !lines.at(-1)!.trim()) lines.pop();
  const rows: JsonlRow<z.output<S>>[] = [];
  const skipped: BadLine[] = [];
  const bad = (b: BadLine): void => {
    if (onBad === 'error') throw new FileFormatError(b);
    skipped.push(b);
  };
  lines.forEach((text, i) => {
    const raw = text.replace(/\r$/, '');
    if (!raw.trim()) return;
    const line = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      if (opts.tornLastLine && i === lines.length - 1) return;
      bad({ file, line, message: `invalid JSON: ${(e as Error).message}` });
      return;
    }
    const r = checkWith(schema, value);
    if (!('value' in r)) {
      bad({ file, line, ...(r.field !== undefined ? { field: r.field } : {}), message: r.message });
      return;
    }
    const row = { line, value: r.value };
    const problem = opts.check?.(row) ?? null;
    if (problem) {
      bad({ file, line, ...problem });
      return;
    }
    rows.push(row);
  });
  return { rows, skipped };
}

/** Reads a JSONL file: every line parsed and checked against its schema (see parseJsonl). */
export function readJsonl<S extends z.ZodType>(file: string, schema: S, opts: JsonlOptions = {}): z.output<S>[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as Error).message}`);
  }
  return parseJsonl(text, file, schema, opts).rows.map((r) => r.value);
}
