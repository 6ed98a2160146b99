import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file lives in packages/datasets/src). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * The shared assets folder: env CRISPR_ASSETS, else ../shared/assets relative to the repository
 * root (the workplace layout). A user's checkout usually has neither; callers check existence.
 */
export function assetsDir(): string {
  const env = process.env.CRISPR_ASSETS;
  return env !== undefined && env !== '' ? resolve(env) : resolve(REPO_ROOT, '../shared/assets');
}

export function assetsPresent(sub = ''): boolean {
  return existsSync(resolve(assetsDir(), sub));
}
