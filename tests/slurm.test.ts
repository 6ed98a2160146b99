/**
 * Issue 15 on a real SLURM: a one-node cluster on this machine (tests/slurm/start-slurm.sh:
 * munged, slurmctld, slurmd for localhost with 2 CPUs; .ci/run installs slurm-wlm and munge).
 *
 * 1. A plain array job plus an afterok job: the tasks see shards 1/2 and 2/2 through
 *    `--shard auto` (resolveShard in a real array task), and the dependent job runs after both.
 * 2. `crispr slurm --submit` on the embedded default sweep as a 2-task array plus the merge job;
 *    the merged folder's cells equal an unsharded `crispr sweep` of the same config (cells.jsonl
 *    identical but for `timing`). Then one task resubmitted alone (`sbatch --array=2`), as after
 *    a failure: it is still shard 2/2 and resumes from its folder, computing nothing.
 *
 * Skips, with the reason, only where SLURM cannot run at all (not root, binaries missing).
 * Set CRISPR_SLURM_TRANSCRIPT=<file> to keep the squeue and scontrol output of the jobs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, crispr } from './cli-process.js';
import { queued, showJob, slurm, startCluster, waitForJobs, type Cluster } from './slurm/cluster.js';

const tmp = mkdtempSync(join(tmpdir(), 'crispr-slurm-test-'));
const submitted: string[] = [];
afterAll(() => {
  // Nothing of ours may keep running on the cluster after a failed test.
  if (submitted.length && process.env.SLURM_CONF) {
    try {
      if (queued(submitted).length) slurm('scancel', submitted);
    } catch {
      /* the cluster is gone: nothing to cancel */
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});

const SWEEP = join(ROOT, 'packages/bench/sweeps/embedded.yaml');
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

function note(title: string, text: string): void {
  const file = process.env.CRISPR_SLURM_TRANSCRIPT;
  if (file) appendFileSync(file, `\n### ${title} (${new Date().toISOString()})\n${text.trimEnd()}\n`);
}

/** Keeps each distinct squeue listing (not every 2-second poll). */
function squeueNotes(title: string): (lines: string[]) => void {
  let last = '';
  return (lines) => {
    const now = lines.join('\n');
    if (now !== last && now) note(`${title}: squeue`, slurm('squeue', ['-j', submitted.join(',')]));
    last = now;
  };
}

let cluster: Cluster | undefined;
function needCluster(skip: (note: string) => never): void {
  cluster ??= startCluster();
  if (!cluster.ok) {
    console.warn(`skipping the SLURM tests: ${cluster.reason}`);
    skip(cluster.reason);
  }
}

/** cells.jsonl as parsed rows, without what differs between runs (timing). */
function cells(dir: string): unknown[] {
  return readFileSync(join(dir, 'cells.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const { timing: _t, ...row } = JSON.parse(l) as Record<string, unknown>;
      return row;
    });
}

describe('a real one-node SLURM cluster', () => {
  it('runs an array job whose tasks resolve --shard auto, then an afterok job', { timeout: 300_000 }, async ({ skip }) => {
    needCluster(skip);
    const dir = join(tmp, 'plain');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'array.sbatch'),
      `#!/bin/bash
#SBATCH --job-name=crispr-test-array
#SBATCH --array=1-2
#SBATCH --output=${dir}/task-%a.out
# slurmstepd writes its own messages to the job's stderr: kept apart, stdout holds only the JSON line.
#SBATCH --error=${dir}/task-%a.err
set -euo pipefail
cd ${ROOT}/tests
exec ${process.execPath} --import ${TSX} slurm/print-shard.ts
`,
    );
    writeFileSync(
      join(dir, 'after.sbatch'),
      `#!/bin/bash
#SBATCH --job-name=crispr-test-after
#SBATCH --output=${dir}/after.out
# Runs only once both tasks succeeded: their outputs are complete.
cat ${dir}/task-1.out ${dir}/task-2.out > ${dir}/after.txt
`,
    );
    const array = slurm('sbatch', ['--parsable', join(dir, 'array.sbatch')]).trim();
    const after = slurm('sbatch', ['--parsable', `--dependency=afterok:${array}`, join(dir, 'after.sbatch')]).trim();
    submitted.push(array, after);
    expect(showJob(after)[0]!.Dependency).toMatch(new RegExp(`^afterok:${array}_\\*`));
    await waitForJobs([array, after], 240_000, squeueNotes('plain array + afterok'));
    note('plain array + afterok: scontrol show job', slurm('scontrol', ['show', 'job', array]) + slurm('scontrol', ['show', 'job', after]));

    const tasks = showJob(array);
    expect(tasks.map((t) => t.ArrayTaskId).sort()).toEqual(['1', '2']);
    for (const t of tasks) expect([t.ArrayTaskId, t.JobState, t.ExitCode]).toEqual([t.ArrayTaskId, 'COMPLETED', '0:0']);
    expect(showJob(after)[0]!.JobState).toBe('COMPLETED');
    const shards = readFileSync(join(dir, 'after.txt'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(shards).toEqual([
      { task: '1', shard: { index: 1, count: 2 } },
      { task: '2', shard: { index: 2, count: 2 } },
    ]);
  });

  it('crispr slurm --submit: the merged 2-task array equals an unsharded sweep; a resubmitted task resumes as its shard', { timeout: 3_600_000 }, async ({
    skip,
  }) => {
    needCluster(skip);
    expect(existsSync(SWEEP), `${SWEEP} (the embedded default sweep)`).toBe(true);
    const out = join(tmp, 'cluster');
    const sub = await crispr(['slurm', SWEEP, '--out', out, '--shards', '2', '--time', '01:00:00', '--submit']);
    expect(sub.code, sub.stderr).toBe(0);
    const ids = /^array (\d+)\nmerge (\d+)$/m.exec(sub.stdout.trim());
    expect(ids, sub.stdout).not.toBeNull();
    const [, array, merge] = ids!;
    submitted.push(array!, merge!);
    note('crispr slurm --submit', `$ crispr slurm ${SWEEP} --out ${out} --shards 2 --time 01:00:00 --submit\n${sub.stdout}${sub.stderr}`);
    note('crispr slurm --submit: squeue right after', slurm('squeue', ['-j', `${array},${merge}`]));
    note('crispr slurm --submit: scontrol show job (merge, pending)', slurm('scontrol', ['show', 'job', merge!]));

    // The unsharded reference runs here meanwhile (the cluster's 2 CPUs run the shards).
    const whole = crispr(['sweep', SWEEP, '--out', join(tmp, 'whole')]);
    try {
      await waitForJobs([array!, merge!], 3_000_000, squeueNotes('sweep array + merge'));
    } catch (e) {
      const logs = join(out, 'slurm/logs');
      const text = existsSync(logs)
        ? readdirSync(logs)
            .map((f) => `--- ${f}\n${readFileSync(join(logs, f), 'utf8').slice(-3000)}`)
            .join('\n')
        : '(no logs)';
      throw new Error(`${(e as Error).message}\n${text}`);
    }
    note('sweep array + merge: scontrol show job', slurm('scontrol', ['show', 'job', array!]) + slurm('scontrol', ['show', 'job', merge!]));
    const ref = await whole;
    expect(ref.code, ref.stderr).toBe(0);

    const tasks = showJob(array!);
    expect(tasks).toHaveLength(2);
    for (const t of tasks)
      expect({ task: t.ArrayTaskId, state: t.JobState, exit: t.ExitCode }).toEqual({ task: t.ArrayTaskId, state: 'COMPLETED', exit: '0:0' });
    expect(showJob(merge!)[0]!.JobState, readFileSync(join(out, `slurm/logs/merge-${merge}.out`), 'utf8')).toBe('COMPLETED');

    // Each shard folder holds its own share: shard i of 2, finished, and together every cell.
    const planned: number[] = [];
    for (const i of [1, 2]) {
      const m = JSON.parse(readFileSync(join(out, 'shards', String(i), 'manifest.json'), 'utf8')) as {
        shard: { index: number; count: number };
        finishedAt: string | null;
        cells: { planned: number; finished: number };
      };
      expect(m.shard).toEqual({ index: i, count: 2 });
      expect(m.finishedAt).not.toBeNull();
      expect(m.cells.finished).toBe(m.cells.planned);
      planned.push(m.cells.planned);
    }
    const want = cells(join(tmp, 'whole'));
    expect(planned[0]! + planned[1]!).toBe(want.length);
    expect(Math.min(...planned)).toBeGreaterThan(0);
    expect(cells(join(out, 'merged'))).toEqual(want);
    // The merge job renders the report when this checkout has `crispr report`.
    const report = await crispr(['report', '--help']);
    if (report.code === 0) expect(existsSync(join(out, 'merged/report.html'))).toBe(true);

    // As after a failed task: shard 2 alone, a new one-task array. Its SLURM_ARRAY_TASK_COUNT is
    // 1; the script's pinned count keeps it shard 2/2, and it resumes (nothing left to compute).
    const before = cells(join(out, 'shards/2'));
    const again = slurm('sbatch', ['--parsable', '--array=2', join(out, 'slurm/sweep.sbatch')]).trim();
    submitted.push(again);
    await waitForJobs([again], 600_000, squeueNotes('resubmitted task 2'));
    note('resubmitted task 2: scontrol show job', slurm('scontrol', ['show', 'job', again]));
    const rerun = showJob(again);
    expect(rerun.map((t) => [t.ArrayTaskId, t.JobState])).toEqual([['2', 'COMPLETED']]);
    const log = readFileSync(join(out, `slurm/logs/sweep-${again}_2.out`), 'utf8');
    expect(log).toContain(`crispr: shard 2/2 of job ${again}_2`);
    expect(log).toMatch(/computed nothing/);
    // The resumed shard rewrites its cells from the cached stages: the same, none computed.
    expect(cells(join(out, 'shards/2'))).toEqual(before);
    const timings = readFileSync(join(out, 'shards/2/cells.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => (JSON.parse(l) as { timing: { computed: boolean } }).timing.computed);
    expect(timings.length).toBe(before.length);
    expect(timings.every((c) => !c)).toBe(true);
    const m2 = JSON.parse(readFileSync(join(out, 'shards/2/manifest.json'), 'utf8')) as { shard: unknown };
    expect(m2.shard).toEqual({ index: 2, count: 2 });
  });
});
