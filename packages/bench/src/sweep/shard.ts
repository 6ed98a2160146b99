/**
 * Which share of a sweep's cells this process runs (`crispr sweep --shard <spec>`).
 *
 * `resolveShard(spec, env)` turns the option into `{ index, count }` with a 1-based index
 * (shard `index` of `count`), or null when no --shard was given (the whole sweep):
 *
 *   i/n     shard i of n, 1 <= i <= n ("2/4").
 *   auto    from the scheduler's environment, in this order:
 *     SLURM array job      SLURM_ARRAY_TASK_ID, offset by SLURM_ARRAY_TASK_MIN and divided by
 *                          SLURM_ARRAY_TASK_STEP (when > 1); the count is SLURM_ARRAY_TASK_COUNT.
 *                          `crispr slurm` scripts pin CRISPR_SHARD_COUNT and CRISPR_SHARD_MIN
 *                          (and these win), because SLURM's own values describe the array as
 *                          submitted: resubmitting one failed task with `sbatch --array=3` gives
 *                          MIN 3 and COUNT 1, which would make it shard 1 of 1.
 *     Kubernetes           JOB_COMPLETION_INDEX (0-based) of an Indexed Job; the count is
 *     Indexed Job          CRISPR_SHARD_COUNT (set it to the Job's spec.completions: Kubernetes
 *                          does not put the completion count in the pod's environment).
 *     anything else        CRISPR_SHARD_INDEX (1-based) with CRISPR_SHARD_COUNT.
 *
 * Every malformed or missing value is a UsageError naming the variable and its value.
 */
import { UsageError } from '@crispr-bench/core';

export interface Shard {
  /** 1-based: shard `index` of `count`. */
  index: number;
  count: number;
}

type Env = Record<string, string | undefined>;

/** The environment variable holding the number of shards where the scheduler does not say (Kubernetes). */
export const SHARD_COUNT_ENV = 'CRISPR_SHARD_COUNT';
/** The first array index of the submitted SLURM array, pinned by `crispr slurm` scripts. */
export const SHARD_MIN_ENV = 'CRISPR_SHARD_MIN';
/** A 1-based shard index for schedulers other than SLURM and Kubernetes. */
export const SHARD_INDEX_ENV = 'CRISPR_SHARD_INDEX';

const AUTO_SOURCES =
  'SLURM_ARRAY_TASK_ID (a SLURM array job: sbatch --array=1-N), JOB_COMPLETION_INDEX with ' +
  `${SHARD_COUNT_ENV} (a Kubernetes Indexed Job), or ${SHARD_INDEX_ENV} with ${SHARD_COUNT_ENV}`;

/** The value of a set variable ('' counts as unset: `export X=` in a script means "not given"). */
function get(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, min: number): number {
  const v = get(env, name)!;
  if (!/^\d+$/.test(v)) throw new UsageError(`--shard auto: ${name} must be a non-negative integer, got '${env[name]}'`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--shard auto: ${name} must be >= ${min}, got ${v}`);
  return n;
}

function optionalInt(env: Env, name: string, min: number): number | undefined {
  return get(env, name) === undefined ? undefined : int(env, name, min);
}

function checked(index: number, count: number, how: string): Shard {
  if (index < 1 || index > count) throw new UsageError(`--shard auto: ${how} gives shard ${index}, outside 1..${count}`);
  return { index, count };
}

function fromSlurm(env: Env): Shard {
  const id = int(env, 'SLURM_ARRAY_TASK_ID', 0);
  const pinnedMin = optionalInt(env, SHARD_MIN_ENV, 0);
  const min = pinnedMin ?? optionalInt(env, 'SLURM_ARRAY_TASK_MIN', 0);
  if (min === undefined) throw new UsageError(`--shard auto: SLURM_ARRAY_TASK_ID is set (${id}) but neither ${SHARD_MIN_ENV} nor SLURM_ARRAY_TASK_MIN is`);
  const pinnedCount = optionalInt(env, SHARD_COUNT_ENV, 1);
  const count = pinnedCount ?? optionalInt(env, 'SLURM_ARRAY_TASK_COUNT', 1);
  if (count === undefined)
    throw new UsageError(`--shard auto: SLURM_ARRAY_TASK_ID is set (${id}) but neither ${SHARD_COUNT_ENV} nor SLURM_ARRAY_TASK_COUNT is`);
  // A step only applies to SLURM's own range; a pinned MIN comes from a 1..N array with step 1.
  const step = pinnedMin === undefined ? (optionalInt(env, 'SLURM_ARRAY_TASK_STEP', 1) ?? 1) : 1;
  const minName = pinnedMin === undefined ? 'SLURM_ARRAY_TASK_MIN' : SHARD_MIN_ENV;
  const countName = pinnedCount === undefined ? 'SLURM_ARRAY_TASK_COUNT' : SHARD_COUNT_ENV;
  const how = `SLURM_ARRAY_TASK_ID=${id} with ${minName}=${min}${step > 1 ? `, SLURM_ARRAY_TASK_STEP=${step}` : ''} and ${countName}=${count}`;
  if (id < min) throw new UsageError(`--shard auto: ${how}: the task id is below the array's first index`);
  if ((id - min) % step !== 0) throw new UsageError(`--shard auto: ${how}: the task id is not on the array's step`);
  return checked((id - min) / step + 1, count, how);
}

function withCount(env: Env, name: string, index: number, raw: number): Shard {
  if (get(env, SHARD_COUNT_ENV) === undefined) {
    throw new UsageError(
      `--shard auto: ${name} is set (${raw}) but ${SHARD_COUNT_ENV} is not; set it to the number of shards${name === 'JOB_COMPLETION_INDEX' ? " (the Indexed Job's spec.completions)" : ''}`,
    );
  }
  const count = int(env, SHARD_COUNT_ENV, 1);
  return checked(index, count, `${name}=${raw} with ${SHARD_COUNT_ENV}=${count}`);
}

/**
 * Resolves `--shard <spec>` (see the file's comment): null without a spec, else a 1-based shard.
 * `env` defaults to this process's environment; tests pass their own.
 */
export function resolveShard(spec: string | undefined, env: Env = process.env): Shard | null {
  if (spec === undefined) return null;
  const s = spec.trim();
  if (s === 'auto') {
    if (get(env, 'SLURM_ARRAY_TASK_ID') !== undefined) return fromSlurm(env);
    if (get(env, 'JOB_COMPLETION_INDEX') !== undefined) {
      const i = int(env, 'JOB_COMPLETION_INDEX', 0);
      return withCount(env, 'JOB_COMPLETION_INDEX', i + 1, i);
    }
    if (get(env, SHARD_INDEX_ENV) !== undefined) {
      const i = int(env, SHARD_INDEX_ENV, 1);
      return withCount(env, SHARD_INDEX_ENV, i, i);
    }
    const hint =
      get(env, 'SLURM_JOB_ID') !== undefined ? ` (this is SLURM job ${get(env, 'SLURM_JOB_ID')}, but not an array job: submit with --array=1-N)` : '';
    throw new UsageError(`--shard auto: no shard in the environment${hint}; expected ${AUTO_SOURCES}`);
  }
  const m = /^(\d+)\/(\d+)$/.exec(s);
  if (!m) throw new UsageError(`--shard must be i/n (1-based, e.g. 2/4) or auto, got '${spec}'`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1) throw new UsageError(`--shard ${spec}: the number of shards must be at least 1`);
  if (index < 1 || index > count) throw new UsageError(`--shard ${spec}: the shard index is 1-based and must be in 1..${count}`);
  return { index, count };
}
