/**
 * The lock on a run folder: `<dir>/run.lock`, created with O_CREAT|O_EXCL (atomic in the kernel,
 * also on NFS v3+), holding the holder's pid, host, start time and command. A second process gets
 * an error naming the holder. A lock whose holder is dead (same host, pid gone) is stale: it is
 * taken over, with a message; one from another host cannot be checked, so the error says how to
 * remove it by hand.
 *
 * Hand-written rather than proper-lockfile: that library keeps no owner (so no error can name
 * the holder) and decides staleness by an mtime that the holder refreshes on a timer, so a run
 * killed with -9 blocks its own resume until the lock ages out, and a paused holder loses it.
 */
import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UserError } from '@crispr-bench/core';
import { parseJsonText } from '@crispr-bench/core/common';
import { z } from 'zod';

export const LOCK_FILE = 'run.lock';

const lockOwner = z.looseObject({ pid: z.number(), host: z.string(), startedAt: z.string(), command: z.string() });
export type LockOwner = z.infer<typeof lockOwner>;

export class RunFolderLockedError extends UserError {
  constructor(
    message: string,
    readonly owner: LockOwner | null,
  ) {
    super(message);
    this.name = 'RunFolderLockedError';
  }
}

export interface RunLock {
  file: string;
  owner: LockOwner;
  /** The stale lock this one replaced, if any. */
  tookOverFrom: LockOwner | null;
  release(): void;
}

function readOwner(file: string): LockOwner | null | 'missing' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw e;
  }
  try {
    return parseJsonText(text, file, lockOwner);
  } catch {
    return null; // created but not yet written, or its holder died in between
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function describe(o: LockOwner): string {
  return `pid ${o.pid} on host ${o.host}, started ${o.startedAt}${o.command ? ` (${o.command})` : ''}`;
}

function tryCreate(file: string, owner: LockOwner): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, `${JSON.stringify(owner)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An unwritten lock file is given this long to get its contents before it counts as abandoned. */
const UNWRITTEN_GRACE_MS = 5000;

/**
 * Takes the lock of run folder `dir` (which must exist), or throws RunFolderLockedError naming
 * the holder. `onNote` hears about a stale lock taken over.
 */
export async function lockRunFolder(dir: string, opts: { command?: string; onNote?: (line: string) => void } = {}): Promise<RunLock> {
  const file = join(dir, LOCK_FILE);
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    command: opts.command ?? process.argv.slice(1).join(' '),
  };
  let tookOverFrom: LockOwner | null = null;
  for (let attempt = 0; attempt < 50; attempt++) {
    if (tryCreate(file, owner)) {
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        process.off('exit', release);
        // Only remove the file while it is still ours (a takeover after a pause must not be undone).
        const now = readOwner(file);
        if (now !== 'missing' && now !== null && now.pid === owner.pid && now.host === owner.host && now.startedAt === owner.startedAt) unlinkSync(file);
      };
      process.on('exit', release);
      return { file, owner, tookOverFrom, release };
    }
    const held = readOwner(file);
    if (held === 'missing') continue; // released between our two calls
    if (held === null) {
      // Unwritten: a holder between open and write, or one that died there.
      let age = 0;
      try {
        age = Date.now() - statSync(file).mtimeMs;
      } catch {
        continue;
      }
      if (age < UNWRITTEN_GRACE_MS) {
        await sleep(100);
        continue;
      }
    } else if (held.host !== owner.host) {
      throw new RunFolderLockedError(
        `run folder ${dir} is locked by ${describe(held)}; another host's process cannot be checked from here. If it is no longer running, delete ${file}.`,
        held,
      );
    } else if (alive(held.pid)) {
      throw new RunFolderLockedError(`run folder ${dir} is in use by ${describe(held)}; wait for it to finish, stop it, or use another --out`, held);
    }
    // Stale. Several processes may see it at once: each moves the file it read to a name of its
    // own (rename is atomic, so exactly one of them gets it), checks that what it moved is the
    // stale lock it judged, and the winner then competes for the lock like anyone else.
    const mine = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, mine);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    const moved = readOwner(mine);
    const same =
      held === null
        ? moved === null
        : moved !== 'missing' && moved !== null && moved.pid === held.pid && moved.startedAt === held.startedAt && moved.host === held.host;
    if (!same && moved !== 'missing' && moved !== null && alive(moved.pid)) {
      // We moved a live holder's fresh lock (it replaced the stale one after our read): put it
      // back; link, unlike rename, fails rather than replace a lock a third process took since.
      try {
        linkSync(mine, file);
      } finally {
        unlinkSync(mine);
      }
      throw new RunFolderLockedError(`run folder ${dir} is in use by ${describe(moved)}; wait for it to finish, stop it, or use another --out`, moved);
    }
    unlinkSync(mine);
    if (held !== null) tookOverFrom = held;
    opts.onNote?.(
      held === null
        ? `removed an unwritten lock file in ${dir} (its holder died while taking it)`
        : `took over the lock of ${dir} from ${describe(held)}: that process is no longer running`,
    );
  }
  throw new RunFolderLockedError(`run folder ${dir}: could not take ${file} after 50 attempts (another process keeps taking it)`, null);
}
