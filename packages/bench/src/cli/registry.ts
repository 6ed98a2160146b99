/**
 * Every `crispr` subcommand, in the order `crispr --help` lists them. Packages export their
 * commands; this list is the one place they are wired in.
 */
import { importCommand, sitesCommand, inspectCommand, pruneCommand, explainCommand, type CliCommand } from '@crispr-bench/core';
import { dataCommand } from '@crispr-bench/datasets';
import { judgeCommand } from './commands/judge.js';
import { runCommand } from './commands/run.js';
import { mergeCommand, sweepCommand } from './commands/sweep.js';
import { organismCommand } from '../organism/command.js';
import { reportCommand } from '@crispr-bench/report';
import { gateCommand } from './commands/gate.js';
import { slurmCommand } from './commands/slurm.js';

export const commands: CliCommand[] = [runCommand, sweepCommand, mergeCommand, slurmCommand, importCommand, sitesCommand, inspectCommand, explainCommand, pruneCommand, dataCommand, judgeCommand, organismCommand, reportCommand, gateCommand];
