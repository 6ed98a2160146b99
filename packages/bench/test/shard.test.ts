import { describe, expect, it } from 'vitest';
import { UsageError } from '@crispr-bench/core';
import { resolveShard } from '../src/sweep/shard.js';

/** The error resolveShard throws (asserting it is a UsageError, exit status 2). */
function usageError(spec: string | undefined, env: Record<string, string | undefined>): string {
  try {
    resolveShard(spec, env);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error(`resolveShard(${spec}) did not throw`);
}

describe('resolveShard: i/n', () => {
  it('no --shard is the whole sweep', () => {
    expect(resolveShard(undefined, {})).toBeNull();
  });

  it('parses 1-based i/n', () => {
    expect(resolveShard('1/1', {})).toEqual({ index: 1, count: 1 });
    expect(resolveShard('3/4', {})).toEqual({ index: 3, count: 4 });
    expect(resolveShard(' 2/12 ', {})).toEqual({ index: 2, count: 12 });
  });

  it('refuses 0-based, out-of-range and malformed values', () => {
    expect(usageError('0/4', {})).toMatch(/1-based and must be in 1\.\.4/);
    expect(usageError('5/4', {})).toMatch(/must be in 1\.\.4/);
    expect(usageError('1/0', {})).toMatch(/at least 1/);
    for (const bad of ['', '2', '2/', '/4', '-1/4', '1.5/4', 'a/b', '2-4', 'AUTO']) {
      expect(usageError(bad, {})).toMatch(/must be i\/n .* or auto/);
    }
  });

  it('ignores the environment when given i/n', () => {
    expect(resolveShard('2/3', { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '9' })).toEqual({ index: 2, count: 3 });
  });
});

describe('resolveShard: auto under SLURM', () => {
  const array = (id: number, min: number, count: number, extra: Record<string, string> = {}) => ({
    SLURM_JOB_ID: '100',
    SLURM_ARRAY_TASK_ID: String(id),
    SLURM_ARRAY_TASK_MIN: String(min),
    SLURM_ARRAY_TASK_MAX: String(min + count - 1),
    SLURM_ARRAY_TASK_COUNT: String(count),
    ...extra,
  });

  it('maps --array=1-4 to shards 1..4', () => {
    for (let id = 1; id <= 4; id++) expect(resolveShard('auto', array(id, 1, 4))).toEqual({ index: id, count: 4 });
  });

  it('offsets by SLURM_ARRAY_TASK_MIN (--array=0-2 and --array=10-11)', () => {
    expect(resolveShard('auto', array(0, 0, 3))).toEqual({ index: 1, count: 3 });
    expect(resolveShard('auto', array(2, 0, 3))).toEqual({ index: 3, count: 3 });
    expect(resolveShard('auto', array(11, 10, 2))).toEqual({ index: 2, count: 2 });
  });

  it('divides by the step (--array=0-6:2 is 4 tasks)', () => {
    const env = (id: number) => array(id, 0, 4, { SLURM_ARRAY_TASK_STEP: '2', SLURM_ARRAY_TASK_MAX: '6' });
    expect([0, 2, 4, 6].map((id) => resolveShard('auto', env(id))!.index)).toEqual([1, 2, 3, 4]);
    expect(usageError('auto', env(3))).toMatch(/not on the array's step/);
  });

  it("keeps a resubmitted task's shard with the pinned count and first index (sbatch --array=3 of 1-4)", () => {
    // SLURM describes the resubmitted array (MIN 3, COUNT 1); crispr slurm scripts pin the original.
    const resubmitted = array(3, 3, 1);
    expect(resolveShard('auto', resubmitted)).toEqual({ index: 1, count: 1 }); // what SLURM alone would say
    expect(resolveShard('auto', { ...resubmitted, CRISPR_SHARD_COUNT: '4', CRISPR_SHARD_MIN: '1' })).toEqual({ index: 3, count: 4 });
  });

  it('names the variables when a value is missing, malformed or out of range', () => {
    expect(usageError('auto', { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_COUNT: '2' })).toMatch(
      /SLURM_ARRAY_TASK_ID is set \(2\) but neither CRISPR_SHARD_MIN nor SLURM_ARRAY_TASK_MIN is/,
    );
    expect(usageError('auto', { SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '1' })).toMatch(/neither CRISPR_SHARD_COUNT nor SLURM_ARRAY_TASK_COUNT/);
    expect(usageError('auto', array(1, 1, 2, { SLURM_ARRAY_TASK_ID: 'x1' }))).toMatch(/SLURM_ARRAY_TASK_ID must be a non-negative integer, got 'x1'/);
    expect(usageError('auto', array(1, 1, 2, { SLURM_ARRAY_TASK_COUNT: '0' }))).toMatch(/SLURM_ARRAY_TASK_COUNT must be >= 1, got 0/);
    expect(usageError('auto', array(5, 1, 4))).toMatch(
      /SLURM_ARRAY_TASK_ID=5 with SLURM_ARRAY_TASK_MIN=1 and SLURM_ARRAY_TASK_COUNT=4 gives shard 5, outside 1\.\.4/,
    );
    expect(usageError('auto', array(0, 1, 4))).toMatch(/below the array's first index/);
    expect(usageError('auto', { ...array(6, 1, 8), CRISPR_SHARD_COUNT: '4', CRISPR_SHARD_MIN: '1' })).toMatch(
      /CRISPR_SHARD_COUNT=4 gives shard 6, outside 1\.\.4/,
    );
  });

  it('says when a SLURM job is not an array job', () => {
    expect(usageError('auto', { SLURM_JOB_ID: '77' })).toMatch(/SLURM job 77, but not an array job: submit with --array=1-N/);
  });
});

describe('resolveShard: auto elsewhere', () => {
  it('reads a Kubernetes Indexed Job (0-based JOB_COMPLETION_INDEX) with CRISPR_SHARD_COUNT', () => {
    expect(resolveShard('auto', { JOB_COMPLETION_INDEX: '0', CRISPR_SHARD_COUNT: '3' })).toEqual({ index: 1, count: 3 });
    expect(resolveShard('auto', { JOB_COMPLETION_INDEX: '2', CRISPR_SHARD_COUNT: '3' })).toEqual({ index: 3, count: 3 });
  });

  it('needs CRISPR_SHARD_COUNT on Kubernetes and checks the range', () => {
    expect(usageError('auto', { JOB_COMPLETION_INDEX: '1' })).toMatch(/JOB_COMPLETION_INDEX is set \(1\) but CRISPR_SHARD_COUNT is not; .*spec\.completions/);
    expect(usageError('auto', { JOB_COMPLETION_INDEX: '3', CRISPR_SHARD_COUNT: '3' })).toMatch(
      /JOB_COMPLETION_INDEX=3 with CRISPR_SHARD_COUNT=3 gives shard 4, outside 1\.\.3/,
    );
    expect(usageError('auto', { JOB_COMPLETION_INDEX: '1', CRISPR_SHARD_COUNT: 'three' })).toMatch(
      /CRISPR_SHARD_COUNT must be a non-negative integer, got 'three'/,
    );
  });

  it('takes a generic 1-based CRISPR_SHARD_INDEX', () => {
    expect(resolveShard('auto', { CRISPR_SHARD_INDEX: '2', CRISPR_SHARD_COUNT: '2' })).toEqual({ index: 2, count: 2 });
    expect(usageError('auto', { CRISPR_SHARD_INDEX: '0', CRISPR_SHARD_COUNT: '2' })).toMatch(/CRISPR_SHARD_INDEX must be >= 1, got 0/);
  });

  it('prefers SLURM over Kubernetes, and treats empty variables as unset', () => {
    expect(
      resolveShard('auto', {
        SLURM_ARRAY_TASK_ID: '2',
        SLURM_ARRAY_TASK_MIN: '1',
        SLURM_ARRAY_TASK_COUNT: '2',
        JOB_COMPLETION_INDEX: '0',
        CRISPR_SHARD_COUNT: '',
      }),
    ).toEqual({ index: 2, count: 2 });
    expect(resolveShard('auto', { SLURM_ARRAY_TASK_ID: '', JOB_COMPLETION_INDEX: '1', CRISPR_SHARD_COUNT: '2' })).toEqual({ index: 2, count: 2 });
  });

  it('fails naming every source when nothing is set', () => {
    const msg = usageError('auto', {});
    for (const v of ['SLURM_ARRAY_TASK_ID', 'JOB_COMPLETION_INDEX', 'CRISPR_SHARD_COUNT', 'CRISPR_SHARD_INDEX']) expect(msg).toContain(v);
  });
});
