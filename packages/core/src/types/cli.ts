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
  /** Subcommands (`crispr data expand`), so that `crispr <name> <sub> --help` prints the subcommand's own usage. */
  subcommands?: readonly CliCommand[];
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

/** Short aliases, the same in every command that has the option. */
const SHORT: Readonly<Record<string, string>> = { model: 'm', out: 'o' };

type StringSpec = { type: 'string'; short?: string };
type FlagSpec = { type: 'boolean'; default: false };

/**
 * The parseArgs specs of a command's options, written once: every name in `values` takes a
 * value (`--model <dir>`; checked afterwards by the option helpers), every name in `flags` is a
 * switch that defaults to false; `--model` is `-m` and `--out` is `-o` wherever they exist.
 */
export function optionSpecs<const V extends string, const F extends string = never>(
  values: readonly V[],
  flags: readonly F[] = [],
): { [K in V | F]: K extends F ? FlagSpec : StringSpec } {
  const out: Record<string, StringSpec | FlagSpec> = {};
  for (const name of values) out[name] = SHORT[name] ? { type: 'string', short: SHORT[name] } : { type: 'string' };
  for (const name of flags) out[name] = { type: 'boolean', default: false };
  return out as { [K in V | F]: K extends F ? FlagSpec : StringSpec };
}

/** node:util parseArgs (strict), with its errors turned into usage errors that show the usage text. */
export function parseCommandLine<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, usage: string, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${usage}`);
  }
}

/** The arguments before a `--` terminator: after it, `--help` is an operand, not a request for help. */
function optionTokens(argv: readonly string[]): readonly string[] {
  const end = argv.indexOf('--');
  return end < 0 ? argv : argv.slice(0, end);
}

/**
 * The usage text that `argv` asks for, or null when it does not ask for help: `--help`/`-h`
 * anywhere before `--` prints the usage of the deepest subcommand named by the leading arguments
 * (`data expand --help` is expand's, `data --help` and `data bogus --help` are data's).
 */
export function helpRequest(cmd: CliCommand, argv: readonly string[]): string | null {
  const tokens = optionTokens(argv);
  if (!tokens.includes('--help') && !tokens.includes('-h')) return null;
  const sub = cmd.subcommands?.find((s) => s.name === argv[0]);
  return sub ? helpRequest(sub, argv.slice(1)) : cmd.usage;
}

/**
 * A command whose `--help` (on it or on any of its subcommands) prints the usage on stdout and
 * exits 0, the same way for every command, whether it runs from the CLI or is called directly.
 */
export function defineCommand(cmd: CliCommand): CliCommand {
  return {
    ...cmd,
    async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
      const usage = helpRequest(cmd, argv);
      if (usage !== null) {
        io.out(usage);
        return 0;
      }
      return cmd.run(argv, io);
    },
  };
}

/** Runs the subcommand of `parent` named by argv[0], with the rest of the arguments; a missing or unknown name is a usage error. */
export function runSubcommand(parent: CliCommand, argv: string[], io: CliIO = consoleIO): Promise<number> {
  const subs = parent.subcommands ?? [];
  const [name, ...rest] = argv;
  const names = subs.map((s) => s.name).join(', ');
  if (name === undefined) throw new UsageError(`missing subcommand (${names})\n\n${parent.usage}`);
  const sub = subs.find((s) => s.name === name);
  if (!sub) throw new UsageError(`unknown ${parent.name} subcommand '${name}' (${names})\n\n${parent.usage}`);
  return sub.run(rest, io);
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
