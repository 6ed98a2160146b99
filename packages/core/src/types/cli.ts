/**
 * A `crispr` subcommand. Every package contributes commands; packages/bench registers them
 * in its CLI entry point. `run` receives the arguments after the command name and returns the
 * process exit code: 0 ok, 1 failure, 2 usage error (a thrown UsageError also exits 2).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

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
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** An error whose message is meant for the user as is (no stack trace); exit status 1. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

/** A command line the command cannot run as given (unknown or missing option, bad value); exit status 2. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The exit status for an error a command threw: 2 for usage errors, 1 for everything else. */
export function exitCodeOf(e: unknown): 1 | 2 {
  return e instanceof UsageError ? 2 : 1;
}

/** node:util parseArgs (strict), with its errors turned into usage errors that show the usage text. */
export function parseCommandLine<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, usage: string, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${usage}`);
  }
}

/** Parses an integer option (`--name <n>`), with a default and a lower bound, as a UsageError on bad input. */
export function intOption(v: string | undefined, name: string, fallback: number, min = 0): number {
  if (v === undefined) return fallback;
  if (!/^-?\d+$/.test(v.trim())) throw new UsageError(`--${name} must be an integer, got '${v}'`);
  const n = Number(v);
  if (n < min) throw new UsageError(`--${name} must be >= ${min}, got ${n}`);
  return n;
}

/** Checks an option against its allowed values (a UsageError naming them otherwise). */
export function choiceOption<T extends string>(v: string | undefined, allowed: readonly T[], flag: string, fallback: T): T {
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v as T;
}

/**
 * Where a command's `--json <file|->` goes. With `-` the JSON document is the only thing on
 * stdout, so `crispr x --json - | jq` works: the command's tables and notes go to stderr
 * (`io` here). With a file, the command prints as usual and says where the file is.
 */
export interface JsonOutput {
  /** The IO the command prints its human-readable output through. */
  io: CliIO;
  /** Writes the document (to stdout for `-`, else to the file). */
  write(doc: unknown, opts?: { pretty?: boolean }): void;
}

export function jsonOutput(io: CliIO, target: string | undefined): JsonOutput {
  if (target === '-') {
    return {
      io: { out: io.err, err: io.err },
      write: (doc, opts) => io.out(JSON.stringify(doc, null, opts?.pretty === false ? undefined : 2)),
    };
  }
  return {
    io,
    write(doc, opts) {
      if (target === undefined) return;
      try {
        writeFileSync(target, `${JSON.stringify(doc, null, opts?.pretty === false ? undefined : 2)}\n`);
      } catch (e) {
        throw new UserError(`--json: cannot write ${target}: ${(e as Error).message}`);
      }
      io.out(`wrote ${target}`);
    },
  };
}
