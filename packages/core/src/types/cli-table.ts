/** The one plain-text table printer of the `crispr` commands. */

export interface Column<R> {
  /** Header text. */
  header: string;
  /** The cell text of a row. */
  value: (row: R, index: number) => string;
  /** right for numbers (default left). */
  align?: 'left' | 'right';
  /** A minimum width, so that tables printed one after another line up. */
  minWidth?: number;
}

export interface TableOptions {
  /** A line of dashes under the header. */
  rule?: boolean;
  /** Spaces between columns (default 2). */
  gap?: number;
  /** Prefix of every line (e.g. an indent). */
  indent?: string;
}

/**
 * Lines of a table: a header and one line per row, each column as wide as its widest cell (in
 * code points, so that '—' counts as one), trailing blanks trimmed.
 */
export function formatTable<R>(rows: readonly R[], columns: readonly Column<R>[], opts: TableOptions = {}): string[] {
  const len = (s: string) => [...s].length;
  const cells = rows.map((r, i) => columns.map((c) => c.value(r, i)));
  const widths = columns.map((c, j) => Math.max(c.minWidth ?? 0, len(c.header), ...cells.map((r) => len(r[j]!))));
  const pad = (s: string, j: number) => {
    const fill = ' '.repeat(widths[j]! - len(s));
    return columns[j]!.align === 'right' ? fill + s : s + fill;
  };
  const gap = ' '.repeat(opts.gap ?? 2);
  const line = (r: readonly string[]) => ((opts.indent ?? '') + r.map(pad).join(gap)).trimEnd();
  const out = [line(columns.map((c) => c.header))];
  if (opts.rule) out.push((opts.indent ?? '') + widths.map((w) => '-'.repeat(w)).join(gap));
  for (const r of cells) out.push(line(r));
  return out;
}
