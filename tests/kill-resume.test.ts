/**
 * Issue 14's resume guarantee: a `crispr run` killed with SIGKILL at any moment (no handler runs,
 * the lock and any temp file stay behind) and then run again gives results equal to a run that
 * was never interrupted. Ten moments drawn from a seed across the run's duration, each on its own
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
    // The reference run also times when the pipeline starts (after node, the model build and
    // load), so that the moments fall mostly where checkpoints are being written.
    const t0 = Date.now();
    const child = spawnCrispr([...ARGS, '--out', 'ref'], { cwd: tmp });
    let workStarts = 0;
    child.stderr!.on('data', (d: Buffer) => {
      if (!workStarts && d.toString().includes('checking prompt lengths')) workStarts = Date.now() - t0;
    });
    const ref = await collect(child);
    const duration = Date.now() - t0;
    expect(ref.code, ref.stderr).toBe(0);
    const want = comparable(join(tmp, 'ref'));
    const wantRanking = readFileSync(join(tmp, 'ref', 'ranking.json'), 'utf8');

    const rng = createRng(SEED);
    let interruptedMidRun = 0;
    const log: string[] = [];
    for (let i = 0; i < MOMENTS; i++) {
      // From half-way through start-up (the lock is taken, the model is being built or loaded) to the end.
      const from = workStarts / 2;
      const at = Math.round(from + (duration - from) * rng.next());
      const out = `run-${i}`;
      const child = spawnCrispr([...ARGS, '--out', out], { cwd: tmp });
      const timer = setTimeout(() => child.kill('SIGKILL'), at);
      const first = await collect(child);
      clearTimeout(timer);
      const dir = join(tmp, out);
      const killed = first.signal === 'SIGKILL';
      if (!killed) expect(first.code, first.stderr).toBe(0); // finished before its moment
      const lockLeft = existsSync(join(dir, 'run.lock'));
      const stages = existsSync(dir) ? readdirSync(dir).filter((e) => ['scores', 'attribution', 'ksearch', 'sweep'].includes(e)) : [];
      if (killed && stages.length > 0 && !existsSync(join(dir, 'results.json'))) interruptedMidRun++;
      log.push(`${at} ms: ${killed ? `killed with ${stages.join(', ') || 'no stage'} written${lockLeft ? ', lock left' : ''}` : 'finished first'}`);

      const resumed = await crispr([...ARGS, '--out', out], { cwd: tmp });
      expect(resumed.code, `moment ${i} (${at} ms): ${resumed.stderr}`).toBe(0);
      if (lockLeft) expect(resumed.stderr).toMatch(/took over the lock of .* from pid \d+ .*: that process is no longer running/);
      expect(comparable(dir), `moment ${i} (${at} ms)`).toEqual(want);
      expect(readFileSync(join(dir, 'ranking.json'), 'utf8')).toBe(wantRanking);
      expect(readdirSync(dir, { recursive: true }).filter((f) => /\.tmp-\d+$/.test(String(f)))).toEqual([]);
    }
    // The moments must actually cut runs between checkpoints, or the test proves little.
    expect(interruptedMidRun, `run ${duration} ms, work from ${workStarts} ms; ${log.join('; ')}`).toBeGreaterThanOrEqual(3);
  });
});
