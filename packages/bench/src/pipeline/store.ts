/**
 * The run folder: every stage writes its output here as soon as it is done, so an interrupted
 * run resumes where it stopped. A stage's file is reused only when the run's config hash matches.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export class RunStore {
  constructor(
    readonly dir: string,
    readonly configHash: string,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  static hash(config: unknown): string {
    return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
  }

  path(name: string): string {
    return join(this.dir, name);
  }

  /** Reads a stage output written by this same configuration, or undefined. */
  read<T>(name: string): T | undefined {
    const p = this.path(name);
    if (!existsSync(p)) return undefined;
    try {
      const doc = JSON.parse(readFileSync(p, 'utf8')) as { configHash: string; data: T };
      return doc.configHash === this.configHash ? doc.data : undefined;
    } catch {
      return undefined; // a torn write from an interrupted run is recomputed
    }
  }

  /** Writes atomically (temp file + rename) so an interruption never leaves a half file. */
  write<T>(name: string, data: T): void {
    const p = this.path(name);
    mkdirSync(dirname(p), { recursive: true });
    const tmp = `${p}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ configHash: this.configHash, data }));
    renameSync(tmp, p);
  }

  /** Writes a plain JSON file (no envelope), for files users read: results, ranking. */
  writePlain(name: string, data: unknown): void {
    const p = this.path(name);
    mkdirSync(dirname(p), { recursive: true });
    const tmp = `${p}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n');
    renameSync(tmp, p);
  }
}
