#!/usr/bin/env node
/** The `crispr` command line: dispatches to the subcommands that the packages contribute. */
import { consoleIO, exitCodeOf, formatTable, helpRequest, UsageError, UserError, type CliCommand } from '@crispr-bench/core/cli';
import { commands } from './registry.js';

function usage(cmds: CliCommand[]): string {
  const lines = ['usage: crispr <command> [options]', '', 'commands:'];
  // Headerless: the header line formatTable puts first is dropped.
  lines.push(
    ...formatTable(
      cmds,
      [
        { header: '', value: (c) => c.name, minWidth: 10 },
        { header: '', value: (c) => c.summary },
      ],
      { indent: '  ', gap: 1 },
    ).slice(1),
  );
  lines.push('', 'Run `crispr <command> --help` (or `crispr <command> <subcommand> --help`) for the options.');
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    // Asked for help: usage on stdout, 0. No command at all is a usage error: stderr, 2.
    if (name) consoleIO.out(usage(commands));
    else consoleIO.err(usage(commands));
    return name ? 0 : 2;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    consoleIO.err(`crispr: unknown command '${name}'\n\n${usage(commands)}`);
    return 2;
  }
  // The same answer a command's own run() gives (defineCommand); here too so that a command
  // defined without it still has a working --help.
  const help = helpRequest(cmd, rest);
  if (help !== null) {
    consoleIO.out(help);
    return 0;
  }
  try {
    return await cmd.run(rest, consoleIO);
  } catch (e) {
    // Errors from the libraries name the file, line, node or tensor at fault; the message is
    // what a user needs. The stack is for us: CRISPR_DEBUG=1 prints it.
    // Exit status: 2 for a usage error (the command line is wrong), 1 for any other failure.
    const err = e instanceof Error ? e : new Error(String(e));
    consoleIO.err(`crispr ${name}: ${err.message}`);
    if (e instanceof UsageError && !err.message.includes('usage:')) consoleIO.err(`(crispr ${name} --help lists the options)`);
    if (!(e instanceof UserError) && process.env.CRISPR_DEBUG) consoleIO.err(err.stack ?? '');
    else if (!(e instanceof UserError)) consoleIO.err('(set CRISPR_DEBUG=1 for the stack trace)');
    return exitCodeOf(e);
  }
}

process.env.ORT_DISABLE_TELEMETRY ??= '1';
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
