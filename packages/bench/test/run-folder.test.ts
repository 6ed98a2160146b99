/** The run folder's parts on their own: safe names, the checkpoint store, the lock, progress lines. */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pathInside, safeName } from '@crispr-bench/core';
import { RunStore, NonFiniteError, findNonFinite } from '../src/pipeline/store.js';
import { lockRunFolder, RunFolderLockedError } from '../src/pipeline/lock.js';
import { formatDuration, progressReporter } from '../src/cli/progress.js';

const tmp = mkdtempSync(join(tmpdir(), 'crispr-run-folder-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('safeName and pathInside', () => {
  const hostile = [
    '../../escaped',
    '/etc/passwd',
    'a\u0000b',
    '</script><img src=x onerror=alert(1)>',
    'x'.repeat(10_000),
    '',
    '..',
    'C:\\windows\\system32',
    'résumé café',
    '名前',
  ];
  it('reduces any name to a short slug of [a-z0-9_-] plus an 8-digit hash, distinct names staying distinct', () => {
    const names = hostile.map(safeName);
    for (const n of names) expect(n).toMatch(/^[a-z0-9_-]{1,40}-[0-9a-f]{8}$/);
    expect(new Set(names).size).toBe(hostile.length);
    expect(safeName('paper-1')).toMatch(/^paper-1-[0-9a-f]{8}$/);
    expect(safeName('a b')).not.toBe(safeName('a-b'));
    expect(safeName('résumé café')).toMatch(/^resume-cafe-/);
    for (const n of names) expect(pathInside(tmp, `scores/${n}.json`).startsWith(`${tmp}/`)).toBe(true);
  });

  it('refuses a path that leaves the folder, an absolute path and a NUL byte', () => {
    expect(() => pathInside(tmp, '../x.json')).toThrow(/leaves/);
    expect(() => pathInside(tmp, 'a/../../x.json')).toThrow(/leaves/);
    expect(() => pathInside(tmp, '/etc/passwd')).toThrow(/absolute/);
    expect(() => pathInside(tmp, 'a\u0000b')).toThrow(/NUL/);
    expect(pathInside(tmp, 'a/../b.json')).toBe(join(tmp, 'b.json'));
  });
});

describe('RunStore', () => {
  it('reuses a checkpoint only under the same key, and says why it recomputes', async () => {
    const lines: string[] = [];
    const store = new RunStore(join(tmp, 'store'), (l) => lines.push(l));
    let calls = 0;
    const compute = async () => [++calls, 2, 3];
    expect(await store.stage('s/a.json', { model: 'sha256:1', prompts: 'sha256:p' }, compute)).toEqual([1, 2, 3]);
    expect(await store.stage('s/a.json', { model: 'sha256:1', prompts: 'sha256:p' }, compute)).toEqual([1, 2, 3]);
    expect(lines.at(-1)).toBe('reused s/a.json: same model sha256:1, prompts sha256:p');
    expect(await store.stage('s/a.json', { model: 'sha256:2', prompts: 'sha256:p' }, compute)).toEqual([2, 2, 3]);
    expect(lines.at(-1)).toBe('recomputing s/a.json: model changed (sha256:1 -> sha256:2)');
    writeFileSync(store.path('s/a.json'), '{"format":2,"key":{"mo');
    expect(await store.stage('s/a.json', { model: 'sha256:2', prompts: 'sha256:p' }, compute)).toEqual([3, 2, 3]);
    expect(lines.at(-1)).toMatch(/recomputing s\/a\.json: its checkpoint is unreadable/);
  });

  it('never writes a non-finite number, and never reuses one', async () => {
    const store = new RunStore(join(tmp, 'nan'));
    await expect(store.stage('x.json', {}, async () => ({ rows: [{ logprobs: [-1, NaN] }] }))).rejects.toThrow(NonFiniteError);
    await expect(store.stage('x.json', {}, async () => ({ rows: [{ logprobs: [-1, NaN] }] }))).rejects.toThrow(
      /refusing to write x\.json: rows\[0\]\.logprobs\[1\] = NaN/,
    );
    expect(existsSync(store.path('x.json'))).toBe(false);
    expect(() => store.writePlain('results.json', { a: Infinity })).toThrow(/a = Infinity/);
    expect(findNonFinite({ v: new Float32Array([1, -Infinity]) })).toBe('v[1] = -Infinity');
    expect(findNonFinite({ a: [1, null, 'x'] })).toBeNull();
  });

  it('refuses checkpoint names that leave the folder', async () => {
    const store = new RunStore(join(tmp, 'names'));
    await expect(store.stage('../escaped.json', {}, async () => 1)).rejects.toThrow(/leaves/);
    expect(existsSync(join(tmp, 'escaped.json'))).toBe(false);
  });

  it('clear() (--fresh) keeps only the lock', async () => {
    const dir = join(tmp, 'clear');
    mkdirSync(dir, { recursive: true });
    const lock = await lockRunFolder(dir);
    const store = new RunStore(dir);
    await store.stage('scores/a.json', {}, async () => 1);
    store.clear();
    expect(readdirSync(dir)).toEqual(['run.lock']);
    lock.release();
  });
});

describe('lockRunFolder', () => {
  it('holds pid, host, start time and command; a second taker in this process is refused too', async () => {
    const dir = join(tmp, 'lock');
    mkdirSync(dir);
    const a = await lockRunFolder(dir, { command: 'crispr run --out x' });
    const held = JSON.parse(readFileSync(join(dir, 'run.lock'), 'utf8'));
    expect(held).toEqual({ pid: process.pid, host: hostname(), startedAt: a.owner.startedAt, command: 'crispr run --out x' });
    const err = await lockRunFolder(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFolderLockedError);
    expect((err as RunFolderLockedError).owner?.pid).toBe(process.pid);
    a.release();
    expect(existsSync(join(dir, 'run.lock'))).toBe(false);
    (await lockRunFolder(dir)).release();
  });

  it('takes over an abandoned empty lock file only after a grace period', async () => {
    const dir = join(tmp, 'empty-lock');
    mkdirSync(dir);
    writeFileSync(join(dir, 'run.lock'), '');
    const { utimesSync } = await import('node:fs');
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, 'run.lock'), old, old);
    const notes: string[] = [];
    const l = await lockRunFolder(dir, { onNote: (n) => notes.push(n) });
    expect(notes[0]).toMatch(/removed an unwritten lock file/);
    l.release();
  });

  it('of many concurrent takers of a stale lock exactly one wins', async () => {
    const dir = join(tmp, 'race');
    mkdirSync(dir);
    // A dead pid on this host: pids only grow until they wrap, so take one far past any live one.
    writeFileSync(join(dir, 'run.lock'), JSON.stringify({ pid: 2 ** 22 - 1, host: hostname(), startedAt: 'then', command: '' }));
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => lockRunFolder(dir)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won.length).toBe(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(RunFolderLockedError);
    (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof lockRunFolder>>>).value.release();
  });
});

describe('progress', () => {
  it('plain lines: a line every few seconds with percentage, rate and ETA, and one at the end', () => {
    const lines: string[] = [];
    let t = 0;
    const p = progressReporter({ out: () => {}, err: (l) => lines.push(l) }, { tty: false, now: () => t, plainEveryMs: 5000 });
    p.stage("attributing, instruction 'paper-3' (3/10)");
    t = 1000;
    p.step(10, 100);
    t = 6000;
    p.step(50, 100);
    t = 12000;
    p.step(100, 100);
    expect(lines).toEqual(["[0s] attributing, instruction 'paper-3' (3/10)", '  50/100 (50%), 8.3/s, ETA 6s', '  100/100 in 12s (8.3/s)']);
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(125)).toBe('2m05s');
  });

  it('on a terminal, a cli-progress bar with rate and ETA', async () => {
    let drawn = '';
    const stream = Object.assign(
      new Writable({
        write(chunk, _enc, cb) {
          drawn += chunk.toString();
          cb();
        },
      }),
      { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true },
    );
    const p = progressReporter({ out: () => {}, err: () => {} }, { tty: true, stream });
    p.stage('scoring');
    p.step(3, 10);
    p.note('a note above the bar');
    p.step(10, 10);
    expect(drawn).toMatch(/3\/10 \| [\d.]+\/s \| ETA/);
    expect(drawn).toContain('a note above the bar');
    expect(drawn).toContain('10/10');
  });
});
