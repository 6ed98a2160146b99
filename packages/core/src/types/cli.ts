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
