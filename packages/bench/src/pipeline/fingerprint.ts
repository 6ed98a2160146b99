/**
 * Content fingerprints of a run's inputs, for stage keys: the bytes of the model files (ONNX
 * graphs, their external data, config and tokenizer), so that weights fixed in place are
 * recomputed even though the folder's path is the same.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The files that make up a model: the given ONNX files with their external data, and every top-level JSON file (config, tokenizer). */
export function modelFiles(dir: string, onnxFiles: readonly string[]): string[] {
  const out = new Set<string>();
  for (const f of onnxFiles) {
    const sub = dirname(f);
    const stem = basename(f).replace(/\.onnx$/, '');
    for (const e of readdirSync(join(dir, sub))) if (e.startsWith(stem) && statSync(join(dir, sub, e)).isFile()) out.add(sub === '.' ? e : `${sub}/${e}`);
  }
  for (const e of readdirSync(dir)) if (e.endsWith('.json') && statSync(join(dir, e)).isFile()) out.add(e);
  return [...out].sort();
}

/** sha256 over the files' names and bytes (streamed: model files can be many GB). */
export async function hashFiles(dir: string, files: readonly string[]): Promise<string> {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(`${f}\0${statSync(join(dir, f)).size}\0`);
    for await (const chunk of createReadStream(join(dir, f))) h.update(chunk as Buffer);
  }
  return `sha256:${h.digest('hex').slice(0, 16)}`;
}
