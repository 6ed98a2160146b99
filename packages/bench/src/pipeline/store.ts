/**
 * The run folder: every stage writes its output here as soon as it is done, so an interrupted
 * run resumes where it stopped. A stage's checkpoint carries the key of exactly what the stage
 * read (content hashes of the model files, the items, the instruction text, the rendered prompts,
 * the settings, the upstream numbers it used), and is reused only when every part of the key is
 * the same; the run says which checkpoints it reused and why, and which it recomputed and why.
 *
 * Nothing non-finite is ever written: JSON would turn NaN into null, which a later run would read
 * back as a number. Every file name is checked to stay inside the folder.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathInside } from '@crispr-bench/core';
import { readJsonFile } from '@crispr-bench/core/common';
import { z } from 'zod';
import { LOCK_FILE } from './lock.js';

/** What a stage read, part by part: each value a content hash (`sha256:...`) or a literal setting. */
export type StageKey = Record<string, string>;

const FORMAT = 2;

interface Checkpoint<T> {
  format: number;
  stage: string;
  key: StageKey;
  data: T;
}

/** A checkpoint as read back: older formats may lack the key; the data is the stage's own (checked finite). */
const checkpointFile = z.looseObject({ format: z.number().optional(), key: z.record(z.string(), z.string()).optional(), data: z.unknown() });

/** sha256 of the JSON of `value`, shortened for keys and messages. */
export function contentHash(value: unknown): string {
  return `sha256:${createHash('sha256')
    .update(typeof value === 'string' ? value : JSON.stringify(value))
    .digest('hex')
    .slice(0, 16)}`;
}

/** The first non-finite number in a JSON-bound value, as a path like `[3].logprobs[1]`, or null. */
export function findNonFinite(value: unknown, path = ''): string | null {
  if (typeof value === 'number') return Number.isFinite(value) ? null : `${path || '(value)'} = ${value}`;
  if (value === null || typeof value !== 'object') return null;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const a = value as unknown as ArrayLike<number>;
    for (let i = 0; i < a.length; i++) if (typeof a[i] === 'number' && !Number.isFinite(a[i])) return `${path}[${i}] = ${a[i]}`;
    return null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const r = findNonFinite(value[i], `${path}[${i}]`);
      if (r) return r;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value)) {
    const r = findNonFinite(v, path ? `${path}.${k}` : k);
    if (r) return r;
  }
  return null;
}

/** Writes a file through a temporary file and a rename, so an interruption never leaves half of it. */
export function writeFileAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

export class NonFiniteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NonFiniteError';
  }
}

/** Why a checkpoint's key does not match, in words ("model changed (sha256:... -> sha256:...)"). */
export function keyDifference(old: StageKey, now: StageKey): string {
  const parts: string[] = [];
  for (const k of new Set([...Object.keys(old), ...Object.keys(now)])) {
    if (old[k] !== now[k]) parts.push(`${k} changed (${old[k] ?? 'absent'} -> ${now[k] ?? 'absent'})`);
  }
  return parts.join(', ');
}

export class RunStore {
  /** One line per stage checkpoint: reused (and why it is valid) or recomputed (and why). */
  readonly log: string[] = [];
  /** Checkpoints computed and reused, by kind (the first folder of the stage's name). */
  readonly counts = { computed: {} as Record<string, number>, reused: {} as Record<string, number> };

  private count(which: 'computed' | 'reused', name: string): void {
    const kind = name
      .replace(/^stages\//, '')
      .split('/')[0]!
      .replace(/\.json$/, '');
    this.counts[which][kind] = (this.counts[which][kind] ?? 0) + 1;
  }

  constructor(
    readonly dir: string,
    private readonly onNote: (line: string) => void = () => {},
  ) {
    mkdirSync(dir, { recursive: true });
  }

  path(name: string): string {
    return pathInside(this.dir, name);
  }

  /**
   * Removes the temporary files of writes that a killed process never renamed into place. Call
   * it holding the folder's lock: then no live process is writing one.
   */
  removeTemporaries(): string[] {
    const gone: string[] = [];
    for (const e of readdirSync(this.dir, { recursive: true, withFileTypes: true })) {
      if (e.isFile() && /\.tmp-\d+$/.test(e.name)) {
        rmSync(join(e.parentPath, e.name), { force: true });
        gone.push(e.name);
      }
    }
    return gone;
  }

  /** Removes everything in the folder but its lock (`--fresh`). */
  clear(): void {
    for (const e of readdirSync(this.dir)) if (e !== LOCK_FILE) rmSync(this.path(e), { recursive: true, force: true });
  }

  private note(line: string): void {
    this.log.push(line);
    this.onNote(line);
  }

  /**
   * The stage `name`: its checkpoint when one exists with exactly this key, else `compute()`,
   * checked finite and written before it is returned.
   */
  async stage<T>(name: string, key: StageKey, compute: () => Promise<T>): Promise<T> {
    const p = this.path(name);
    let why = 'no checkpoint yet';
    if (existsSync(p)) {
      let doc: z.output<typeof checkpointFile> | undefined;
      try {
        doc = readJsonFile(p, checkpointFile);
      } catch {
        why = 'its checkpoint is unreadable (a torn write?)';
      }
      if (doc) {
        if (doc.format !== FORMAT || !doc.key) why = `its checkpoint has an older format (${doc.format ?? 1})`;
        else {
          const diff = keyDifference(doc.key, key);
          const bad = findNonFinite(doc.data);
          if (!diff && !bad) {
            this.note(
              `reused ${name}: same ${Object.entries(key)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')}`,
            );
            this.count('reused', name);
            return doc.data as T;
          }
          why = diff || `its checkpoint holds a non-finite number (${bad})`;
        }
      }
    }
    if (why !== 'no checkpoint yet') this.note(`recomputing ${name}: ${why}`);
    const data = await compute();
    this.count('computed', name);
    this.write(name, { format: FORMAT, stage: name, key, data } satisfies Checkpoint<T>, false, data);
    return data;
  }

  /** Writes atomically (temp file + rename) so an interruption never leaves a half file; refuses non-finite numbers. */
  private write(name: string, doc: unknown, pretty = false, payload: unknown = doc): void {
    const bad = findNonFinite(payload);
    if (bad) throw new NonFiniteError(`refusing to write ${name}: ${bad} (a NaN or infinity reached a result; nothing was saved)`);
    writeFileAtomic(this.path(name), `${JSON.stringify(doc, null, pretty ? 2 : undefined)}\n`);
  }

  /** Writes a plain JSON file (no envelope), for files users read: results, ranking. */
  writePlain(name: string, data: unknown): void {
    this.write(name, data, true);
  }
}
