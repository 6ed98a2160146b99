/**
 * File names derived from data (instruction names, categories, model names) and the one check
 * that a path stays inside its folder. Data can say anything (`../../x`, `/etc/x`, NUL, `</script>`,
 * 10,000 characters), so a name is reduced to a short slug of safe characters plus a hash of the
 * original, which keeps distinct names distinct ("a b" and "a-b" differ in the hash).
 */
import { createHash } from 'node:crypto';
import { isAbsolute, relative, resolve, sep } from 'node:path';

const SLUG_MAX = 40;

/** `[a-z0-9_-]` slug of `name` (at most 40 characters) + `-` + 8 hex digits of its sha256. */
export function safeName(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // accents split off by NFKD: résumé -> resume
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '')
    .slice(0, SLUG_MAX)
    .replace(/[-_]+$/g, '');
  const hash = createHash('sha256').update(name, 'utf8').digest('hex').slice(0, 8);
  return `${slug || 'x'}-${hash}`;
}

/**
 * The absolute path of `name` inside `dir`, refusing any name that would leave it (`..`, an
 * absolute path, a NUL byte). Names built with safeName never do; this is the guard for the rest.
 */
export function pathInside(dir: string, name: string): string {
  if (name.includes('\0')) throw new Error(`refusing a file name with a NUL byte: ${JSON.stringify(name)}`);
  if (isAbsolute(name)) throw new Error(`refusing an absolute file name inside ${dir}: ${name}`);
  const root = resolve(dir);
  const p = resolve(root, name);
  const rel = relative(root, p);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new Error(`refusing a file name that leaves ${dir}: ${name}`);
  return p;
}
