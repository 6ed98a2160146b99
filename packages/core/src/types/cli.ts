/**
 * A `crispr` subcommand. Every package contributes commands; packages/bench registers them
 * in its CLI entry point. `run` receives the arguments after the command name and returns the
 * process exit code (0 ok, 1 failure, 2 usage error).
 */
export interface CliCommand {
  name: string;
  summary: string;
  /** Full usage text printed by `crispr <name> --help`. */
  usage: string;
  run(argv: string[], io?: CliIO): Promise<number>;
}

export interface CliIO {
  out(line: string): void;
  err(line: string): void;
}

export const consoleIO: CliIO = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

/** An error whose message is meant for the user as is (no stack trace). */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** Parses an integer option (`--name <n>`), with a default and a lower bound, as a UserError on bad input. */
export function intOption(v: string | undefined, name: string, fallback: number, min = 0): number {
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v.trim())) throw new UserError(`--${name} must be an integer, got '${v}'`);
  const n = Number(v);
  if (n < min) throw new UserError(`--${name} must be >= ${min}, got ${n}`);
  return n;
}
