/**
 * `crispr slurm`: run a sweep across machines as a SLURM array job (one task per shard) plus a
 * merge job that starts when every task succeeded. Writes the two sbatch scripts into
 * <out>/slurm/; with --submit also submits them and prints the job ids.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  UsageError,
  UserError,
  choiceOption,
  consoleIO,
  defineCommand,
  intOption,
  optionSpecs,
  parseCommandLine,
  type CliCommand,
  type CliIO,
} from '@crispr-bench/core/cli';
import { quote } from 'shell-quote';
import { loadSweepConfig } from '../../sweep/config.js';
import { MAX_SHARDS, slurmPaths, slurmScripts, type SlurmPlan } from '../../slurm/scripts.js';

const USAGE = `usage: crispr slurm <config.yaml> --out <dir> [options]

Runs a sweep on a SLURM cluster: writes <out>/slurm/sweep.sbatch, an array job whose task i runs
\`crispr sweep <config> --shard auto --out <out>/shards/<i>\`, and <out>/slurm/merge.sbatch, which
joins the shards into <out>/merged (\`crispr merge\`) and renders <out>/merged/report.html.
With --submit it submits both (the merge with --dependency=afterok:<array job>) and prints the
job ids; without, it prints the sbatch commands. The repository, the config and <out> must be on
a file system the compute nodes share.

  --out <dir>              the sweep's folder (required)
  --shards <n>             array tasks, one shard of the cells each (default 4; at most ${MAX_SHARDS})
  --partition <p>          SLURM partition (default: the cluster's default partition)
  --time <t>               time limit per task: HH:MM:SS, MM, D-HH, D-HH:MM:SS (default: the partition's)
  --cpus <n>               CPUs per task (--cpus-per-task)
  --mem <m>                memory per task: 8G, 16000M, ... (--mem)
  --provider <p>           cpu | cuda: the config's provider (its 'provider:', default cpu), which
                           sets where the sweep runs; cuda requests --gres=gpu:<gpus> per task.
                           Given here, it must agree with the config
  --gpus <n>               GPUs per task when the provider is cuda (default 1)
  --rankings <dir>         passed to every shard (crispr sweep --rankings)
  --sbatch-line <line>     an extra #SBATCH directive for both jobs, e.g. '--account=lab' or
                           '#SBATCH --qos=long' (repeatable; later lines override earlier ones)
  --submit                 submit with sbatch (must be on PATH) and print the job ids

A failed or preempted task resumes from its shard folder when run again: scontrol requeue
<job>_<i>, or sbatch --array=<i> <out>/slurm/sweep.sbatch. The merge job then never starts
(SLURM keeps the array marked failed): scancel it and submit merge.sbatch again with
--dependency=afterany:<array job>[:<new job>] (crispr merge refuses unfinished shards itself).
`;

/** The repository root: this file is packages/bench/src/cli/commands/slurm.ts. */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../../..');

const TIME = /^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2})$/;
const MEM = /^\d+[KMGT]?$/i;
const PARTITION = /^[A-Za-z0-9_.,-]+$/;

/** An --sbatch-line as a directive without its `#SBATCH` prefix. */
function sbatchLine(line: string): string {
  const l = line.trim().replace(/^#SBATCH\s+/, '');
  if (/[\n\r]/.test(l)) throw new UsageError(`--sbatch-line must be one line, got ${JSON.stringify(line)}`);
  if (!l.startsWith('-')) throw new UsageError(`--sbatch-line must be an sbatch option such as '--account=lab' (or '#SBATCH --account=lab'), got '${line}'`);
  return l;
}

/**
 * `--sbatch-line --account=lab` as `--sbatch-line=--account=lab`: node's parser takes a value
 * that starts with a dash for a forgotten value, but an sbatch option always starts with one.
 */
function joinSbatchLines(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--sbatch-line' && i + 1 < argv.length) out.push(`--sbatch-line=${argv[++i]}`);
    else out.push(argv[i]!);
  }
  return out;
}

/** A path that goes into the scripts (absolute) and into #SBATCH lines, checked for what sbatch cannot read. */
function scriptPath(p: string, flag: string): string {
  const abs = resolve(p);
  if (/["\n\r]/.test(abs)) throw new UsageError(`${flag}: a path with a double quote or a line break cannot go into an sbatch script: ${JSON.stringify(abs)}`);
  return abs;
}

/**
 * The config, checked as `crispr sweep` checks it (an invalid one is refused here, not on every
 * node), and its execution provider, which decides whether the tasks need GPUs.
 */
function configProvider(file: string): 'cpu' | 'cuda' {
  let provider: string;
  try {
    provider = loadSweepConfig(file).config.provider;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (provider !== 'cpu' && provider !== 'cuda') throw new UsageError(`${file} has provider: ${provider}; crispr slurm runs cpu or cuda sweeps`);
  return provider;
}

/** Runs sbatch --parsable; returns the job id (its output is `<id>` or `<id>;<cluster>`). */
async function sbatch(args: string[], cwd: string): Promise<string> {
  let stdout: string;
  try {
    ({ stdout } = await promisify(execFile)('sbatch', ['--parsable', ...args], { cwd, encoding: 'utf8' }));
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new UserError('sbatch not found on PATH: run this on a SLURM login node, or submit the scripts from one');
    throw new UserError(`sbatch ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim()}`);
  }
  const m = /^(\d+)(;\S+)?\s*$/.exec(stdout.trim().split('\n').pop() ?? '');
  if (!m) throw new UserError(`sbatch ${args.join(' ')}: expected a job id, got ${JSON.stringify(stdout)}`);
  return m[1]!;
}

export const slurmCommand: CliCommand = defineCommand({
  name: 'slurm',
  summary: 'run a sweep on SLURM: an array job over shards, then a merge job',
  usage: USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values: v, positionals } = parseCommandLine(
      joinSbatchLines(argv),
      {
        ...optionSpecs(['out', 'shards', 'partition', 'time', 'cpus', 'mem', 'gpus', 'provider', 'rankings'], ['submit']),
        'sbatch-line': { type: 'string', multiple: true },
      },
      USAGE,
      true,
    );
    if (positionals.length !== 1) throw new UsageError(`expected one sweep config, got ${positionals.length ? positionals.join(' ') : 'none'}\n\n${USAGE}`);
    if (v.out === undefined) throw new UsageError(`--out <dir> is required\n\n${USAGE}`);
    const config = scriptPath(positionals[0]!, 'the config');
    if (!existsSync(config) || !statSync(config).isFile()) throw new UserError(`the sweep config ${positionals[0]} is not a file`);
    const rankings = v.rankings === undefined ? undefined : scriptPath(v.rankings, '--rankings');
    if (rankings !== undefined && !existsSync(rankings)) throw new UserError(`--rankings: ${v.rankings} does not exist`);
    const shards = intOption('shards', v.shards, { default: 4, min: 1 });
    if (shards > MAX_SHARDS) throw new UsageError(`--shards must be <= ${MAX_SHARDS} (SLURM's default MaxArraySize), got ${shards}`);
    if (v.time !== undefined && !TIME.test(v.time)) throw new UsageError(`--time must be a SLURM time limit (HH:MM:SS, MM, D-HH, D-HH:MM:SS), got '${v.time}'`);
    if (v.mem !== undefined && !MEM.test(v.mem)) throw new UsageError(`--mem must be a size such as 8G or 16000M, got '${v.mem}'`);
    if (v.partition !== undefined && !PARTITION.test(v.partition))
      throw new UsageError(`--partition must be a partition name (letters, digits, _ . - and commas), got '${v.partition}'`);
    // The sweep takes its provider from the config, so the GPUs requested follow the config.
    const configured = configProvider(config);
    const provider = choiceOption('provider', v.provider, ['cpu', 'cuda'] as const, configured);
    if (provider !== configured)
      throw new UsageError(`--provider ${provider}: the config runs on ${configured} (its 'provider:'); set provider: ${provider} in ${positionals[0]}`);
    if (v.gpus !== undefined && provider !== 'cuda') throw new UsageError(`--gpus needs a config with provider: cuda (this one runs on ${provider})`);
    const plan: SlurmPlan = {
      repo: REPO,
      node: process.execPath,
      cwd: process.cwd(),
      config,
      out: scriptPath(v.out, '--out'),
      shards,
      provider,
      sbatchLines: (v['sbatch-line'] ?? []).map(sbatchLine),
      createdAt: new Date().toISOString(),
      ...(v.partition !== undefined && { partition: v.partition }),
      ...(v.time !== undefined && { time: v.time }),
      ...(v.cpus !== undefined && { cpus: intOption('cpus', v.cpus, { default: 1, min: 1 }) }),
      ...(v.mem !== undefined && { mem: v.mem.toUpperCase() }),
      ...(v.gpus !== undefined && { gpus: intOption('gpus', v.gpus, { default: 1, min: 1 }) }),
      ...(rankings !== undefined && { rankings }),
    };
    const scripts = slurmScripts(plan);
    const p = slurmPaths(plan.out);
    // SLURM does not create the folder of a job's output file: a missing one fails the job silently.
    mkdirSync(p.logs, { recursive: true });
    mkdirSync(p.shards, { recursive: true });
    writeFileSync(scripts.sweepFile, scripts.sweep);
    writeFileSync(scripts.mergeFile, scripts.merge);
    chmodSync(scripts.sweepFile, 0o755);
    chmodSync(scripts.mergeFile, 0o755);
    io.err(`wrote ${scripts.sweepFile} (array 1-${shards}) and ${scripts.mergeFile}`);

    if (!v.submit) {
      io.err('submit with:');
      io.out(`jid=$(sbatch --parsable ${quote([scripts.sweepFile])}) && sbatch --dependency=afterok:"\${jid%%;*}" ${quote([scripts.mergeFile])}`);
      return 0;
    }
    const array = await sbatch([scripts.sweepFile], plan.cwd);
    let merge: string;
    try {
      merge = await sbatch([`--dependency=afterok:${array}`, scripts.mergeFile], plan.cwd);
    } catch (e) {
      throw new UserError(
        `${(e as Error).message}\nthe array job ${array} is submitted; submit the merge by hand: sbatch --dependency=afterok:${array} ${scripts.mergeFile}`,
      );
    }
    writeFileSync(p.jobsFile, `${JSON.stringify({ array, merge, shards, submittedAt: new Date().toISOString() }, null, 2)}\n`);
    io.err(`submitted: array job ${array} (tasks 1-${shards}), merge job ${merge} (after every task succeeded); ids in ${p.jobsFile}`);
    io.err(`follow with: squeue -j ${array},${merge}; logs in ${p.logs}`);
    io.out(`array ${array}`);
    io.out(`merge ${merge}`);
    return 0;
  },
});
