/**
 * Every `crispr` subcommand, in the order `crispr --help` lists them. Each package exports its
 * commands from its `./cli` subpath; this list is the one place they are wired in.
 */
import type { CliCommand } from '@crispr-bench/core';
import { importCommand, sitesCommand, inspectCommand, pruneCommand, explainCommand } from '@crispr-bench/core/cli';
import { dataCommand } from '@crispr-bench/datasets/cli';
import { reportCommand } from '@crispr-bench/report/cli';
import { runCommand, sweepCommand, mergeCommand, judgeCommand, organismCommand, gateCommand, slurmCommand } from '@crispr-bench/bench/cli';

export const commands: CliCommand[] = [
  runCommand,
  sweepCommand,
  mergeCommand,
  slurmCommand,
  importCommand,
  sitesCommand,
  inspectCommand,
  explainCommand,
  pruneCommand,
  dataCommand,
  judgeCommand,
  organismCommand,
  reportCommand,
  gateCommand,
];
