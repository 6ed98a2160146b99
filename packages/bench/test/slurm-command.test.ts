/**
 * `crispr slurm` without a cluster: the scripts it writes (directives, quoting, shell syntax,
 * that they reach the repository's CLI from another directory with no node tooling on PATH),
 * and --submit against a stand-in sbatch that records its arguments. The real cluster is
 * tests/slurm.test.ts.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { slurmCommand } from '../src/cli/commands/slurm.js';

const tmp = mkdtempSync(join(tmpdir(), 'crispr slurm-')); // a space: every path must be quoted
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const REPO = resolve(import.meta.dirname, '../../..');
// The embedded sweep as a user's config (crispr slurm checks it as crispr sweep would).
const EMBEDDED = readFileSync(join(REPO, 'packages/bench/sweeps/embedded.yaml'), 'utf8');
const config = join(tmp, 'sweep.yaml');
writeFileSync(config, EMBEDDED);
const badYaml = join(tmp, 'bad.yaml');
writeFileSync(badYaml, 'title: [unclosed\n');
const badConfig = join(tmp, 'bad-config.yaml');
writeFileSync(badConfig, 'title: no models\nmodelz: []\n');
const gpuConfig = join(tmp, 'gpu.yaml');
writeFileSync(gpuConfig, `${EMBEDDED}\nprovider: cuda\n`);
/** A config valid when the scripts are written, then broken, so running a script by hand fails fast inside crispr sweep. */
function configThatBreaks(name: string): { file: string; breakIt: () => void } {
  const file = join(tmp, name);
  writeFileSync(file, EMBEDDED);
  return { file, breakIt: () => writeFileSync(file, 'title: broken on purpose\nmodelz: []\n') };
}

async function run(argv: string[]): Promise<{ code: number | string; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
  try {
    const code = await slurmCommand.run(argv, io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } catch (e) {
    return { code: (e as Error).name, out: out.join('\n'), err: (e as Error).message };
  }
}

const directives = (script: string) =>
  script
    .split('\n')
    .filter((l) => l.startsWith('#SBATCH '))
    .map((l) => l.slice(8));

describe('crispr slurm: the scripts', () => {
  it('writes an array script and a merge script with the resources asked for', async () => {
    const out = join(tmp, 'gpu run');
    const r = await run([
      gpuConfig,
      '--out',
      out,
      '--shards',
      '3',
      '--partition',
      'gpu',
      '--time',
      '02:00:00',
      '--cpus',
      '4',
      '--mem',
      '16g',
      '--provider',
      'cuda',
      '--gpus',
      '2',
      '--sbatch-line',
      '--account=lab',
      '--sbatch-line',
      '#SBATCH --qos=long',
    ]);
    expect(r.code, r.err).toBe(0);
    const sweep = readFileSync(join(out, 'slurm/sweep.sbatch'), 'utf8');
    const merge = readFileSync(join(out, 'slurm/merge.sbatch'), 'utf8');
    expect(directives(sweep)).toEqual([
      '--job-name=crispr-sweep',
      '--array=1-3',
      `--output="${out}/slurm/logs/sweep-%A_%a.out"`,
      '--open-mode=append',
      '--requeue',
      '--partition=gpu',
      '--time=02:00:00',
      '--cpus-per-task=4',
      '--mem=16G',
      '--gres=gpu:2',
      '--account=lab',
      '--qos=long',
    ]);
    // The merge gets the partition, time and the user's lines, not the per-task CPUs, memory or GPUs.
    expect(directives(merge)).toEqual([
      '--job-name=crispr-merge',
      `--output="${out}/slurm/logs/merge-%j.out"`,
      '--open-mode=append',
      '--partition=gpu',
      '--time=02:00:00',
      '--account=lab',
      '--qos=long',
    ]);
    // The provider is the config's: the sweep line only names the config.
    expect(sweep).toMatch(new RegExp(`sweep '${gpuConfig}' --shard auto --out "\\$SHARD_DIR"\n`));
    expect(sweep).toContain(`SHARD_DIR='${out}/shards'/"$SLURM_ARRAY_TASK_ID"`);
    expect(sweep).toContain('export CRISPR_SHARD_COUNT=3 CRISPR_SHARD_MIN=1');
    expect(sweep).toContain('export ORT_DISABLE_TELEMETRY=1');
    expect(sweep).toContain(`REPO=${REPO}`);
    expect(merge).toContain(`crispr merge '${out}/shards'/* --out '${out}/merged'`);
    expect(merge).toContain(`crispr report '${out}/merged' --out '${out}/merged/report.html'`);
    // SLURM does not create an output file's folder; the command does.
    expect(statSync(join(out, 'slurm/logs')).isDirectory()).toBe(true);
    expect(statSync(join(out, 'slurm/sweep.sbatch')).mode & 0o111).not.toBe(0);
    for (const f of ['sweep.sbatch', 'merge.sbatch']) {
      const syntax = spawnSync('bash', ['-n', join(out, 'slurm', f)], { encoding: 'utf8' });
      expect(syntax.status, syntax.stderr).toBe(0);
    }
    expect(r.out).toContain(`sbatch --parsable '${out}/slurm/sweep.sbatch'`);
  });

  it('escapes % in the log folder (SLURM reads %j, %A as patterns) and passes --rankings', async () => {
    const out = join(tmp, '100%');
    const rankings = join(tmp, 'rankings');
    mkdirSync(rankings);
    const r = await run([config, '--out', out, '--shards', '2', '--rankings', rankings]);
    expect(r.code, r.err).toBe(0);
    const sweep = readFileSync(join(out, 'slurm/sweep.sbatch'), 'utf8');
    expect(directives(sweep)).toContain(`--output="${tmp}/100%%/slurm/logs/sweep-%A_%a.out"`);
    expect(sweep).toContain(`--rankings '${rankings}'`);
    expect(sweep).not.toContain('--gres');
    expect(sweep).not.toContain('--provider');
    // A cuda config asks for one GPU per task without --gpus.
    const gpu = await run([gpuConfig, '--out', join(tmp, 'one gpu')]);
    expect(gpu.code, gpu.err).toBe(0);
    expect(directives(readFileSync(join(tmp, 'one gpu/slurm/sweep.sbatch'), 'utf8'))).toContain('--gres=gpu:1');
  });

  it('reaches the repository CLI from another directory with no node tooling on PATH', async () => {
    const out = join(tmp, 'plumbing');
    const cfg = configThatBreaks('plumbing.yaml');
    expect((await run([cfg.file, '--out', out, '--shards', '2'])).code).toBe(0);
    cfg.breakIt();
    // Run task 2 by hand, as slurmd would: / as cwd, a bare PATH. The config is broken by now, so
    // the error must come from crispr sweep reading it (not "node: not found" or a module
    // resolution failure).
    const r = spawnSync('/bin/bash', [join(out, 'slurm/sweep.sbatch')], {
      cwd: '/',
      encoding: 'utf8',
      env: { PATH: '/usr/sbin:/sbin', HOME: tmp, SLURM_ARRAY_JOB_ID: '7', SLURM_ARRAY_TASK_ID: '2', SLURM_ARRAY_TASK_MIN: '2', SLURM_ARRAY_TASK_COUNT: '1' },
      timeout: 60_000,
    });
    expect(r.stderr).toContain('crispr: shard 2/2 of job 7_2');
    expect(r.stderr).toMatch(/crispr sweep: .*plumbing\.yaml/);
    expect(r.status).toBe(2);
  });

  it("removes another host's stale lock of its shard only when no other job runs that shard", async () => {
    const out = join(tmp, 'locks');
    const cfg = configThatBreaks('locks.yaml');
    expect((await run([cfg.file, '--out', out, '--shards', '2'])).code).toBe(0);
    cfg.breakIt();
    const script = join(out, 'slurm/sweep.sbatch');
    const lock = join(out, 'shards/2/run.lock');
    const bin = join(tmp, 'squeue-bin');
    mkdirSync(bin, { recursive: true });
    /** Task 2 (job 50) run by hand, with a stand-in squeue that lists `running`. */
    const task2 = (running: string[], lockHost: string) => {
      mkdirSync(join(out, 'shards/2'), { recursive: true });
      writeFileSync(lock, `${JSON.stringify({ pid: 1, host: lockHost, startedAt: '2026-01-01T00:00:00Z', command: 'crispr sweep' })}\n`);
      writeFileSync(join(bin, 'squeue'), `#!/bin/sh\nprintf '%s\\n' ${running.map((l) => `'${l}'`).join(' ')}\n`);
      chmodSync(join(bin, 'squeue'), 0o755);
      return spawnSync('/bin/bash', [script], {
        encoding: 'utf8',
        env: { PATH: `${bin}:/usr/bin:/bin`, SLURM_JOB_ID: '50', SLURM_ARRAY_JOB_ID: '49', SLURM_ARRAY_TASK_ID: '2' },
        timeout: 60_000,
      });
    };
    // Job 40 still runs shard 2 of this very script (a resubmission): its lock stays.
    let r = task2([`40|2|${script}`, `41|1|${script}`], 'node-a');
    expect(r.stderr).toContain('shard 2 is still running as job(s) 40; leaving');
    expect(existsSync(lock)).toBe(true);
    // Only other shards or other scripts run: the lock of node-a is stale and goes.
    r = task2([`41|1|${script}`, '42|2|/elsewhere/sweep.sbatch', `50|2|${script}`], 'node-a');
    expect(r.stderr).toContain(`crispr: removing ${lock}, left by host node-a: no other SLURM job is running shard 2`);
    expect(existsSync(lock)).toBe(false);
    // A lock of this host is the sweep's own business (it checks the pid itself).
    r = task2([], hostname());
    expect(r.stderr).not.toContain('removing');
    expect(existsSync(lock)).toBe(true);
  });

  it('refuses bad options with usage errors', async () => {
    const cases: [string[], RegExp][] = [
      [['--out', join(tmp, 'x')], /expected one sweep config, got none/],
      [[config], /--out <dir> is required/],
      [[config, '--out', join(tmp, 'x'), '--gpus', '2'], /--gpus needs a config with provider: cuda/],
      [[config, '--out', join(tmp, 'x'), '--provider', 'cuda'], /--provider cuda: the config runs on cpu .*set provider: cuda in/],
      [[gpuConfig, '--out', join(tmp, 'x'), '--provider', 'cpu'], /--provider cpu: the config runs on cuda/],
      [[badYaml, '--out', join(tmp, 'x')], /bad\.yaml: not valid YAML/],
      [[badConfig, '--out', join(tmp, 'x')], /bad-config\.yaml/],
      [[config, '--out', join(tmp, 'x'), '--time', '1h'], /--time must be a SLURM time limit/],
      [[config, '--out', join(tmp, 'x'), '--mem', '8 GB'], /--mem must be a size/],
      [[config, '--out', join(tmp, 'x'), '--shards', '0'], /--shards must be an integer >= 1, got '0'/],
      [[config, '--out', join(tmp, 'x'), '--shards', '1001'], /--shards must be <= 1000/],
      [[config, '--out', join(tmp, 'x'), '--provider', 'webgpu'], /--provider must be one of cpu, cuda/],
      [[config, '--out', join(tmp, 'x'), '--partition', 'a b'], /--partition must be a partition name/],
      [[config, '--out', join(tmp, 'x'), '--sbatch-line', 'account=lab'], /--sbatch-line must be an sbatch option/],
      [[config, '--out', join(tmp, 'x"y')], /double quote/],
    ];
    for (const [argv, msg] of cases) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe('UsageError');
      expect(r.err).toMatch(msg);
    }
    const missing = await run([join(tmp, 'nope.yaml'), '--out', join(tmp, 'x')]);
    expect(missing.code).toBe('UserError');
    expect(missing.err).toMatch(/nope\.yaml is not a file/);
    expect(existsSync(join(tmp, 'x'))).toBe(false);
  });
});

describe('crispr slurm --submit (a stand-in sbatch)', () => {
  const bin = join(tmp, 'bin');
  const log = join(tmp, 'sbatch.log');
  let path: string | undefined;
  beforeEach(() => {
    path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    rmSync(log, { force: true });
  });
  afterEach(() => {
    process.env.PATH = path;
  });

  /** An sbatch that logs its arguments and answers with the next id (or fails on call `failAt`). */
  function fakeSbatch(replies: string[], failAt = 0) {
    mkdirSync(bin, { recursive: true });
    rmSync(log, { force: true });
    const f = join(bin, 'sbatch');
    writeFileSync(
      f,
      `#!/bin/bash
echo "$*" >> '${log}'
n=$(wc -l < '${log}')
if [ "$n" = "${failAt}" ]; then echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2; exit 1; fi
replies=(${replies.map((r) => `'${r}'`).join(' ')})
echo "\${replies[$((n-1))]}"
`,
    );
    chmodSync(f, 0o755);
  }

  it('submits the array, then the merge after it, and prints both ids', async () => {
    fakeSbatch(['4242', '4243;cluster2']);
    const out = join(tmp, 'submitted');
    const r = await run([config, '--out', out, '--shards', '2', '--submit']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe('array 4242\nmerge 4243');
    const calls = readFileSync(log, 'utf8').trim().split('\n');
    expect(calls).toEqual([`--parsable ${out}/slurm/sweep.sbatch`, `--parsable --dependency=afterok:4242 ${out}/slurm/merge.sbatch`]);
    expect(JSON.parse(readFileSync(join(out, 'slurm/jobs.json'), 'utf8'))).toMatchObject({ array: '4242', merge: '4243', shards: 2 });
  });

  it("reports sbatch's error, and after a submitted array says how to submit the merge", async () => {
    fakeSbatch(['1', '2'], 1);
    const first = await run([config, '--out', join(tmp, 'fail1'), '--submit']);
    expect(first.code).toBe('UserError');
    expect(first.err).toMatch(/sbatch .*sweep\.sbatch failed: sbatch: error: .*Invalid partition/);

    fakeSbatch(['77', '2'], 2);
    const second = await run([config, '--out', join(tmp, 'fail2'), '--submit']);
    expect(second.code).toBe('UserError');
    expect(second.err).toMatch(/the array job 77 is submitted; submit the merge by hand: sbatch --dependency=afterok:77 .*merge\.sbatch/);
  });

  it('refuses an sbatch answer that is not a job id', async () => {
    fakeSbatch(['Submitted']);
    const r = await run([config, '--out', join(tmp, 'garbled'), '--submit']);
    expect(r.code).toBe('UserError');
    expect(r.err).toMatch(/expected a job id, got "Submitted\\n"/);
  });
});
