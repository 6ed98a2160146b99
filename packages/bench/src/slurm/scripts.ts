/**
 * The batch scripts `crispr slurm` writes: an array job whose task i runs shard i of n of a
 * sweep (`crispr sweep <config> --shard auto --out <dir>/shards/<i>`), and a merge job that
 * joins the shards (`crispr merge`) and renders the report, submitted after the array with
 * `--dependency=afterok`.
 *
 * A compute node shares the file system but not the login shell's set-up (no nvm, no pnpm on
 * PATH, another working directory), so the scripts name everything absolutely: the node binary
 * that wrote them (falling back to the node on the compute node's PATH), the repository's own tsx
 * loader and CLI entry point, the config, the output folder and the working directory. The
 * scripts are plain sbatch files, usable without crispr: resubmitting one shard is
 * `sbatch --array=<i> sweep.sbatch`.
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import Handlebars from 'handlebars';
import { quote } from 'shell-quote';

export type Provider = 'cpu' | 'cuda';

export interface SlurmPlan {
  /** Absolute path of the repository checkout whose CLI the jobs run. */
  repo: string;
  /** Absolute path of the node binary that wrote the scripts (tried first on the compute node). */
  node: string;
  /** The working directory of the jobs (where `crispr slurm` ran: relative paths in the config keep their meaning). */
  cwd: string;
  /** Absolute path of the sweep config. */
  config: string;
  /** Absolute path of the output folder: <out>/shards/<i>, <out>/merged, <out>/slurm. */
  out: string;
  shards: number;
  partition?: string;
  /** SLURM time limit (HH:MM:SS, D-HH:MM:SS, minutes, ...). */
  time?: string;
  cpus?: number;
  /** SLURM memory per node (8G, 16000M, ...). */
  mem?: string;
  /** GPUs per task (--gres=gpu:N); only with provider cuda. */
  gpus?: number;
  /** The config's execution provider (its `provider:`): cuda requests GPUs. */
  provider: Provider;
  /** Rankings folder passed to every shard (`crispr sweep --rankings`). */
  rankings?: string;
  /** Extra `#SBATCH` directives, without the `#SBATCH` prefix (`--account=lab`). */
  sbatchLines: string[];
  /** When the scripts were written (a comment in them). */
  createdAt: string;
}

export interface SlurmScripts {
  /** <out>/slurm/sweep.sbatch */
  sweepFile: string;
  /** <out>/slurm/merge.sbatch */
  mergeFile: string;
  sweep: string;
  merge: string;
}

/** Where everything of a plan lives. */
export function slurmPaths(out: string) {
  return {
    dir: `${out}/slurm`,
    logs: `${out}/slurm/logs`,
    sweepFile: `${out}/slurm/sweep.sbatch`,
    mergeFile: `${out}/slurm/merge.sbatch`,
    jobsFile: `${out}/slurm/jobs.json`,
    shards: `${out}/shards`,
    merged: `${out}/merged`,
  };
}

/** The largest array SLURM accepts by default (MaxArraySize=1001, indices 0..1000). */
export const MAX_SHARDS = 1000;

/**
 * A value in an `#SBATCH` directive: sbatch reads these itself (no shell), splitting at spaces
 * unless double-quoted, and has no escape for a double quote or a newline.
 */
function directiveValue(v: string, what: string): string {
  if (/["\n\r]/.test(v)) throw new Error(`${what} cannot hold a double quote or a line break in an #SBATCH line: ${JSON.stringify(v)}`);
  return /[\s#'\\]/.test(v) ? `"${v}"` : v;
}

/** An output file pattern: % starts SLURM's own patterns (%A, %a, %j), so a literal % is %%. */
function outputPattern(dir: string, name: string): string {
  return directiveValue(`${dir.replaceAll('%', '%%')}/${name}`, 'the output folder');
}

const sh = (v: string) => quote([v]);

const COMMON = `set -euo pipefail
# The node that wrote this script, else the compute node's own; the repository's tsx loader and
# CLI entry point (no pnpm or global tsx needed on the compute node).
NODE={{sh node}}
if [ ! -x "$NODE" ]; then NODE="$(command -v node || true)"; fi
if [ -z "$NODE" ]; then echo "crispr: no node binary on $(hostname): install Node 20 or put it on PATH" >&2; exit 1; fi
REPO={{sh repo}}
TSX_LOADER={{sh loaderUrl}}
CRISPR_MAIN={{sh main}}
if [ ! -f "$CRISPR_MAIN" ]; then echo "crispr: $CRISPR_MAIN not found on $(hostname): the repository must be on a file system the compute nodes share" >&2; exit 1; fi
export PATH="$REPO/node_modules/.bin:$PATH"
export ORT_DISABLE_TELEMETRY=1
cd {{sh cwd}}
`;

const SWEEP = `#!/bin/bash
# crispr-bench sweep on SLURM, written by \`crispr slurm\` at {{createdAt}}.
# Array task i (1..{{shards}}) runs shard i/{{shards}} of {{config}}
# into {{shardsDir}}/<i>; {{mergeFile}} joins the shards once every task succeeded.
#
# A failed or preempted task resumes from its shard folder when it runs again:
#   scontrol requeue <array job id>_<i>     while SLURM still knows the job (it starts ~2 min later)
#   sbatch --array=<i> {{sweepFile}}
#                                           shard i alone, as a new job
# After a task failed, the merge job never starts (DependencyNeverSatisfied), and SLURM keeps the
# array marked failed even once the task succeeds again, so afterok cannot be used: scancel it and
#   sbatch --dependency=afterany:<array job id>[:<new job id>] {{mergeFile}}
# (crispr merge itself refuses a shard that has not finished).
#SBATCH --job-name=crispr-sweep
#SBATCH --array=1-{{shards}}
#SBATCH --output={{sweepOutput}}
#SBATCH --open-mode=append
#SBATCH --requeue
{{#each resources}}
#SBATCH {{this}}
{{/each}}
{{#each sbatchLines}}
#SBATCH {{this}}
{{/each}}
${COMMON}
# The shard comes from the array index; the count and first index are pinned here because
# SLURM's own (SLURM_ARRAY_TASK_COUNT, _MIN) describe the array as submitted, and a resubmitted
# single task (sbatch --array=3) would otherwise read as shard 1 of 1.
export CRISPR_SHARD_COUNT={{shards}} CRISPR_SHARD_MIN=1
SHARD_DIR={{sh shardsDir}}/"$SLURM_ARRAY_TASK_ID"
echo "crispr: shard $SLURM_ARRAY_TASK_ID/{{shards}} of job \${SLURM_ARRAY_JOB_ID}_$SLURM_ARRAY_TASK_ID on $(hostname), restart \${SLURM_RESTART_COUNT:-0}, $(date -u +%FT%TZ)" >&2

# The sweep locks its folder (run.lock: pid and host). A run ended by a time limit, a preemption
# or a lost node leaves its lock behind, and a lock from another host cannot be checked by the
# sweep, so a requeued task on another node would be refused. SLURM runs one instance of an
# array task at a time; the only other holder can be another job for this shard (a resubmission
# with sbatch --array=<i>), which squeue shows. None running: the lock is stale, remove it.
LOCK="$SHARD_DIR/run.lock"
if [ -f "$LOCK" ]; then
  HELD_BY="$("$NODE" -e 'try { console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).host ?? "") } catch { console.log("") }' "$LOCK")"
  if [ -n "$HELD_BY" ] && [ "$HELD_BY" != "$(hostname)" ]; then
    if OTHERS="$(squeue -h -t running,completing,suspended,configuring,stopped -o '%A|%K|%o' 2>/dev/null)"; then
      OTHERS="$(printf '%s\n' "$OTHERS" | awk -F'|' -v me="$SLURM_JOB_ID" -v task="$SLURM_ARRAY_TASK_ID" -v script={{sh sweepFile}} '$1 != me && $2 == task && $3 == script { print $1 }')"
      if [ -z "$OTHERS" ]; then
        echo "crispr: removing $LOCK, left by host $HELD_BY: no other SLURM job is running shard $SLURM_ARRAY_TASK_ID" >&2
        rm -f "$LOCK"
      else
        echo "crispr: shard $SLURM_ARRAY_TASK_ID is still running as job(s) $OTHERS; leaving $LOCK" >&2
      fi
    fi
  fi
fi
# exec: SLURM's SIGTERM (time limit, preemption, scancel) reaches the sweep itself.
exec "$NODE" --import "$TSX_LOADER" "$CRISPR_MAIN" sweep {{sh config}} --shard auto --out "$SHARD_DIR"{{#if rankings}} --rankings {{sh rankings}}{{/if}}
`;

const MERGE = `#!/bin/bash
# crispr-bench sweep on SLURM: joins the {{shards}} shards of {{sweepFile}}
# into {{mergedDir}}, written by \`crispr slurm\` at {{createdAt}}.
# Submitted with --dependency=afterok:<array job id>: it starts once every array task succeeded.
#SBATCH --job-name=crispr-merge
#SBATCH --output={{mergeOutput}}
#SBATCH --open-mode=append
{{#each mergeResources}}
#SBATCH {{this}}
{{/each}}
{{#each sbatchLines}}
#SBATCH {{this}}
{{/each}}
${COMMON}
crispr() { "$NODE" --import "$TSX_LOADER" "$CRISPR_MAIN" "$@"; }
# crispr merge refuses shards of different configs and a shard that has not finished.
crispr merge {{sh shardsDir}}/* --out {{sh mergedDir}}
# The report command may be missing in an older checkout: the merged folder is the result.
if crispr report --help >/dev/null 2>&1; then
  crispr report {{sh mergedDir}} --out {{sh reportFile}}
else
  echo "crispr: this checkout has no 'crispr report'; the merged results are in {{mergedDir}}" >&2
fi
`;

const hb = Handlebars.create();
hb.registerHelper('sh', (v: unknown) => sh(String(v)));
// noEscape: these are shell scripts, not HTML; strict: a misspelt field is an error, not ''.
const sweepTemplate = hb.compile(SWEEP, { noEscape: true, strict: true });
const mergeTemplate = hb.compile(MERGE, { noEscape: true, strict: true });

/** The two scripts of a plan (pure: nothing is written). */
export function slurmScripts(plan: SlurmPlan): SlurmScripts {
  for (const [k, v] of Object.entries({ repo: plan.repo, node: plan.node, cwd: plan.cwd, config: plan.config, out: plan.out, rankings: plan.rankings })) {
    if (v !== undefined && !isAbsolute(v)) throw new Error(`slurmScripts: ${k} must be an absolute path, got ${v}`);
  }
  if (!Number.isInteger(plan.shards) || plan.shards < 1 || plan.shards > MAX_SHARDS)
    throw new Error(`slurmScripts: shards must be 1..${MAX_SHARDS}, got ${plan.shards}`);
  const p = slurmPaths(plan.out);
  const shared: string[] = [];
  if (plan.partition !== undefined) shared.push(`--partition=${directiveValue(plan.partition, '--partition')}`);
  if (plan.time !== undefined) shared.push(`--time=${plan.time}`);
  const resources = [...shared];
  if (plan.cpus !== undefined) resources.push(`--cpus-per-task=${plan.cpus}`);
  if (plan.mem !== undefined) resources.push(`--mem=${plan.mem}`);
  if (plan.provider === 'cuda') resources.push(`--gres=gpu:${plan.gpus ?? 1}`);
  const sbatchLines = plan.sbatchLines.map((l) => {
    if (/[\n\r]/.test(l)) throw new Error(`an #SBATCH line cannot hold a line break: ${JSON.stringify(l)}`);
    return l;
  });
  const view = {
    ...plan,
    rankings: plan.rankings ?? '',
    loaderUrl: pathToFileURL(`${plan.repo}/node_modules/tsx/dist/loader.mjs`).href,
    main: `${plan.repo}/packages/bench/src/cli/main.ts`,
    shardsDir: p.shards,
    mergedDir: p.merged,
    reportFile: `${p.merged}/report.html`,
    sweepFile: p.sweepFile,
    mergeFile: p.mergeFile,
    sweepOutput: outputPattern(p.logs, 'sweep-%A_%a.out'),
    mergeOutput: outputPattern(p.logs, 'merge-%j.out'),
    resources,
    mergeResources: shared,
    sbatchLines,
  };
  return { sweepFile: p.sweepFile, mergeFile: p.mergeFile, sweep: sweepTemplate(view), merge: mergeTemplate(view) };
}
