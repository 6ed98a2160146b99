/**
 * `crispr sweep <config.yaml>`: every model x dataset x method variant x k x instruction of a
 * config, into a results folder; `crispr merge`: shard folders into one.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { UsageError, consoleIO, defineCommand, optionSpecs, parseCommandLine, requiredOption, type CliCommand, type CliIO } from '@crispr-bench/core/cli';
import { lockRunFolder } from '../../pipeline/lock.js';
import { RunStore } from '../../pipeline/store.js';
import { configPath, loadSweepConfig } from '../../sweep/config.js';
import { runSweep } from '../../sweep/engine.js';
import { listShardDirs, mergeShards } from '../../sweep/merge.js';
import { progressReporter } from '../progress.js';
import { resolveShard } from '../../sweep/shard.js';

const SWEEP_USAGE = `usage: crispr sweep <config.yaml> [--out <dir>] [--shard i/n|auto] [--rankings <dir>] [--fresh]

Run a sweep config: models x datasets (bias, evaluation and retention roles) x instruction sets
(attribution and held-out) x methods (original; CRISPR and its ablation variants; random pruning;
CC and DC calibration; CRISPR + calibration) x k (numbers and 'auto'), with transfer pairs.
Writes <out>/manifest.json, cells.jsonl (one line per finished cell), results.csv, predictions/,
rankings/ and logs/. Every stage is cached under the hash of what it read: run it again and it
computes only what changed (nothing, for an unchanged sweep); a killed sweep resumes.

options:
  --out <dir>        results folder (default: the config's 'out', else runs/<config name>)
  --shard <i/n|auto> run shard i of n (1-based): a deterministic share of the cells; merge the
                     shard folders with crispr merge. 'auto' reads a SLURM array task
                     (SLURM_ARRAY_TASK_ID), a Kubernetes Indexed Job (JOB_COMPLETION_INDEX with
                     CRISPR_SHARD_COUNT) or CRISPR_SHARD_INDEX with CRISPR_SHARD_COUNT (see the
                     README, "Many machines")
  --rankings <dir>   share attribution checkpoints and rankings between shards in this folder
  --fresh            discard the folder's checkpoints first
  --dry-run          print the plan (groups and cells) and stop

Exit status: 0 done, 1 failed, 2 usage error (including an invalid config).`;

export const sweepCommand: CliCommand = defineCommand({
  name: 'sweep',
  summary: 'run a sweep config (models x datasets x methods x k x instructions) into a results folder',
  usage: SWEEP_USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values: v, positionals } = parseCommandLine(argv, optionSpecs(['out', 'shard', 'rankings'], ['fresh', 'dry-run']), SWEEP_USAGE, true);
    if (positionals.length !== 1) throw new UsageError(`crispr sweep takes one config file, got ${positionals.length}\n\n${SWEEP_USAGE}`);
    const file = positionals[0]!;
    let loaded: ReturnType<typeof loadSweepConfig>;
    try {
      loaded = loadSweepConfig(file);
    } catch (e) {
      // An invalid config is a usage error: the command line named something unusable.
      throw new UsageError((e as Error).message);
    }
    const { config, baseDir } = loaded;
    const shard = resolveShard(v.shard);
    const out = resolve(
      v.out ??
        (config.out
          ? configPath(baseDir, config.out)
          : join(
              'runs',
              file
                .split('/')
                .pop()!
                .replace(/\.ya?ml$/, ''),
            )),
    );
    mkdirSync(out, { recursive: true });
    const progress = progressReporter(io);
    const lock = await lockRunFolder(out, { command: `crispr sweep ${argv.join(' ')}`, onNote: (line) => io.err(line) });
    try {
      const store = new RunStore(out);
      if (v.fresh) store.clear();
      else store.removeTemporaries();
      const summary = await runSweep({
        config,
        baseDir,
        out,
        shard,
        ...(v.rankings ? { rankingsDir: resolve(v.rankings) } : {}),
        progress,
        io,
        dryRun: Boolean(v['dry-run']),
      });
      const count = (r: Record<string, number>) =>
        Object.entries(r)
          .map(([k, n]) => `${n} ${k}`)
          .join(', ') || 'nothing';
      io.out(
        `${summary.cells.length} cells in ${summary.groups} groups in ${summary.seconds.toFixed(1)} s; computed ${count(summary.computed)}; reused ${count(summary.reused)}`,
      );
      io.out(`results: ${relative(process.cwd(), out) || '.'}/{cells.jsonl,results.csv,manifest.json}`);
      return 0;
    } finally {
      lock.release();
    }
  },
});

const MERGE_USAGE = `usage: crispr merge <shard dir>... --out <dir>

Join the folders of the shards of one sweep (crispr sweep --shard i/n) into one folder equal to an
unsharded run's. A single argument that holds shard folders is expanded to them. Refuses shards of
different configs or versions, missing or repeated shards, and a shard that has not finished
(naming it: run that shard again, it resumes).`;

export const mergeCommand: CliCommand = defineCommand({
  name: 'merge',
  summary: 'merge the shard folders of a sweep into one results folder',
  usage: MERGE_USAGE,
  async run(argv: string[], io: CliIO = consoleIO): Promise<number> {
    const { values: v, positionals } = parseCommandLine(argv, optionSpecs(['out']), MERGE_USAGE, true);
    const outDir = requiredOption('out', v.out, '<dir>', MERGE_USAGE);
    if (positionals.length === 0) throw new UsageError(`name the shard folders\n\n${MERGE_USAGE}`);
    for (const p of positionals) if (!existsSync(p)) throw new UsageError(`${p} does not exist`);
    const dirs = positionals.length === 1 && !existsSync(join(positionals[0]!, 'manifest.json')) ? listShardDirs(positionals[0]!) : positionals;
    const r = mergeShards(dirs, resolve(outDir));
    io.out(`merged ${r.shards} shards, ${r.cells} cells into ${outDir}`);
    return 0;
  },
});
