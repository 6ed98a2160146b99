/**
 * Issue 14's resume guarantee: a `crispr run` killed with SIGKILL at any moment (no handler runs,
 * the lock and any temp file stay behind) and then run again gives results equal to a run that
 * was never interrupted. Ten moments drawn from a seed across the run's progress, each on its own
 * run folder, each followed by one resume.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@crispr-bench/core';
import { collect, crispr, spawnCrispr } from './cli-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'crispr-kill-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Small, but with every kind of stage: scores, attribution (two trials), k search, sweep. */
const ARGS = ['run', '--k', '0,1,2,4,8', '--k-search', '16', '--bootstrap', '100', '--instances', '8', '--trials', '2'];
const MOMENTS = 10;
const SEED = 14;

/** results.json without what legitimately differs between runs: wall-clock times and the reuse log. */
function comparable(dir: string): unknown {
  const r = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Record<string, unknown>;
  const { createdAt: _c, timings: _t, notes: _n, ...rest } = r;
  return rest;
}

describe('kill -9 at random moments, then resume', () => {
  it(`gives results equal to an uninterrupted run, ${MOMENTS} times (seed ${SEED})`, { timeout: 900_000 }, async () => {
    const ref = await crispr([...ARGS, '--out', 'ref'], { cwd: tmp });
    expect(ref.code, ref.stderr).toBe(0);
    const want = comparable(join(tmp, 'ref'));
    const wantRanking = readFileSync(join(tmp, 'ref', 'ranking.json'), 'utf8');
    // A moment is a point in the run's own progress, not in wall time (which depends on the
    // machine's load): after the n-th line the run prints on stderr, plus a delay of up to 300 ms.
    const lines = ref.stderr.split('\n').length - 1;

    const rng = createRng(SEED);
    let interruptedMidRun = 0;
    const log: string[] = [];
    for (let i = 0; i < MOMENTS; i++) {
      const afterLine = 1 + rng.int(lines);
      const delay = rng.int(300);
      const at = `line ${afterLine} + ${delay} ms`;
      const out = `run-${i}`;
      const child = spawnCrispr([...ARGS, '--out', out], { cwd: tmp });
      let seen = 0;
      let timer: NodeJS.Timeout | undefined;
      child.stderr!.on('data', (d: Buffer) => {
        seen += d.toString().split('\n').length - 1;
        if (seen >= afterLine && !timer) timer = setTimeout(() => child.kill('SIGKILL'), delay);
      });
      const first = await collect(child);
      if (timer) clearTimeout(timer);
      const dir = join(tmp, out);
      const killed = first.signal === 'SIGKILL';
      if (!killed) expect(first.code, first.stderr).toBe(0); // finished before its moment
      const lockLeft = existsSync(join(dir, 'run.lock'));
      const stages = existsSync(dir) ? readdirSync(dir).filter((e) => ['scores', 'attribution', 'ksearch', 'sweep'].includes(e)) : [];
      if (killed && stages.length > 0 && !existsSync(join(dir, 'results.json'))) interruptedMidRun++;
      log.push(`${at}: ${killed ? `killed with ${stages.join(', ') || 'no stage'} written${lockLeft ? ', lock left' : ''}` : 'finished first'}`);

      const resumed = await crispr([...ARGS, '--out', out], { cwd: tmp });
      expect(resumed.code, `moment ${i} (${at}): ${resumed.stderr}`).toBe(0);
      if (lockLeft) expect(resumed.stderr).toMatch(/took over the lock of .* from pid \d+ .*: that process is no longer running/);
      expect(comparable(dir), `moment ${i} (${at})`).toEqual(want);
      expect(readFileSync(join(dir, 'ranking.json'), 'utf8')).toBe(wantRanking);
      expect(readdirSync(dir, { recursive: true }).filter((f) => /\.tmp-\d+$/.test(String(f)))).toEqual([]);
    }
    // The moments must actually cut runs between checkpoints, or the test proves little.
    expect(interruptedMidRun, `${lines} lines; ${log.join('; ')}`).toBeGreaterThanOrEqual(3);
  });
});
