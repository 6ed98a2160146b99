/**
 * The local one-node SLURM cluster of tests/slurm/start-slurm.sh, for tests: start it (or learn
 * why it cannot start here), and follow jobs with squeue and scontrol (no accounting daemon, so
 * no sacct; finished jobs stay in scontrol for MinJobAge = 10 minutes).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const START = join(dirname(fileURLToPath(import.meta.url)), 'start-slurm.sh');

export type Cluster = { ok: true; conf: string } | { ok: false; reason: string };

/**
 * Starts the cluster. `ok: false` only where SLURM cannot run here (exit 77: not root, binaries
 * missing); a daemon that fails to start is an error, so a broken set-up is not skipped quietly.
 */
export function startCluster(): Cluster {
  const r = spawnSync('bash', [START], { encoding: 'utf8', timeout: 120_000 });
  if (r.status === 77) return { ok: false, reason: r.stderr.trim() };
  if (r.status !== 0) throw new Error(`${START} failed (status ${r.status}${r.error ? `, ${r.error.message}` : ''}):\n${r.stdout}${r.stderr}`);
  const m = /export SLURM_CONF=(\S+)/.exec(r.stdout);
  if (!m) throw new Error(`${START} printed no SLURM_CONF:\n${r.stdout}`);
  process.env.SLURM_CONF = m[1]!;
  return { ok: true, conf: m[1]! };
}

export function slurm(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', env: process.env });
}

/** `scontrol show job <id>` as one record per job (an array job lists each task). */
export function showJob(id: string): Record<string, string>[] {
  const text = slurm('scontrol', ['show', 'job', '--oneliner', id]);
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => {
      const rec: Record<string, string> = {};
      // key=value pairs; values have no spaces except in a few fields we do not read.
      for (const m of line.matchAll(/(\w[\w:/]*)=(\S*)/g)) rec[m[1]!] ??= m[2]!;
      return rec;
    });
}

/** The jobs (and array tasks) squeue still lists for these ids. */
export function queued(ids: string[]): string[] {
  return slurm('squeue', ['-h', '-j', ids.join(','), '-o', '%i %T %r'])
    .split('\n')
    .filter((l) => l.trim());
}

/**
 * Polls squeue until none of the jobs is pending or running, calling `onPoll` with its listing
 * (to keep a transcript); throws with the listing after `timeoutMs`.
 * A merge job whose dependency can never be satisfied stays pending (DependencyNeverSatisfied):
 * that ends the wait at once, as a failure.
 */
export async function waitForJobs(ids: string[], timeoutMs: number, onPoll: (lines: string[]) => void = () => {}): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const lines = queued(ids);
    onPoll(lines);
    if (lines.length === 0) return;
    const stuck = lines.find((l) => l.includes('DependencyNeverSatisfied'));
    if (stuck) throw new Error(`a job can never start: ${stuck}`);
    if (Date.now() > end) throw new Error(`jobs ${ids.join(',')} still queued after ${timeoutMs / 1000} s:\n${lines.join('\n')}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
